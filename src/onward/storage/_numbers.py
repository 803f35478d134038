"""
Number statements: give a new run or plan its number, and map ids and numbers.

A number is a small integer alias the store keeps beside a run or a plan (the
record itself does not carry it): the database counts them up, 1, 2, 3 ... in
the order the runs and plans are first saved, and never hands one out again
(``AUTOINCREMENT`` on SQLite, a sequence on PostgreSQL). Each function runs
inside the caller's transaction; SqlStore opens it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from onward.storage.tables import plan_numbers, run_numbers

#: the largest number a column holds (a signed 64-bit integer)
MAX_NUMBER: Final = 2**63 - 1
#: ids looked up per statement (far below every database's limit of parameters)
_CHUNK: Final = 500

_NUMBER_RUN = run_numbers.insert()
_NUMBER_PLAN = plan_numbers.insert()
_RUN_OF_NUMBER = sa.select(run_numbers.c.run_id).where(
    run_numbers.c.number == sa.bindparam("number")
)


def number_run(conn: Connection, run_id: str) -> None:
    """Give a run that is being inserted the next run number."""
    conn.execute(_NUMBER_RUN, {"run_id": run_id})


def number_plan(conn: Connection, plan_id: str) -> None:
    """Give a plan that is being inserted the next plan number."""
    conn.execute(_NUMBER_PLAN, {"plan_id": plan_id})


def forget_plan(conn: Connection, plan_id: str) -> None:
    """Drop a plan's number before the plan is deleted (the number is not reused)."""
    conn.execute(plan_numbers.delete().where(plan_numbers.c.plan_id == plan_id))


def run_numbers_of(conn: Connection, run_ids: Sequence[str]) -> dict[str, int]:
    """Return the number of each stored run among ``run_ids``."""
    return _numbers_of(conn, run_numbers.c.run_id, run_numbers.c.number, run_ids)


def plan_numbers_of(conn: Connection, plan_ids: Sequence[str]) -> dict[str, int]:
    """Return the number of each stored plan among ``plan_ids``."""
    return _numbers_of(conn, plan_numbers.c.plan_id, plan_numbers.c.number, plan_ids)


def run_id_of(conn: Connection, number: int) -> str | None:
    """Return the id of the run with this number, if any."""
    if not 0 < number <= MAX_NUMBER:
        # never bound: the database's integer would overflow
        return None
    found: str | None = conn.execute(_RUN_OF_NUMBER, {"number": number}).scalar()
    return found


def _numbers_of(
    conn: Connection,
    key: sa.Column[str],
    number: sa.Column[int],
    ids: Sequence[str],
) -> dict[str, int]:
    wanted = list(dict.fromkeys(ids))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = conn.execute(sa.select(key, number).where(key.in_(chunk)))
        found.update({row[0]: row[1] for row in rows})
    return found
