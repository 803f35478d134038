"""
Text no store holds as it is: every adapter stores U+FFFD for NUL and lone surrogates.

PostgreSQL cannot hold U+0000 in ``text`` (its driver refuses to send it), and
no database takes a lone surrogate (it has no UTF-8). Every store (memory,
sqlite, postgres) replaces both with U+FFFD in what it writes and in the keys
it looks up, so that a write stores the same everywhere and a lookup by such a
key finds what a write of it stored, or nothing; never a StorageError.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from onward import errors
from onward.domain.access import User, Workspace
from onward.domain.runs import (
    Attempt,
    AttemptStatus,
    LaneKey,
    Run,
)
from onward.service.ports import FullStore, LogEntry, PlanVersion, RunCommit, Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: a NUL, a lone high and a lone low surrogate, each between letters
UNSTORABLE = "a\x00b\ud800c\udfffd"
#: what every store holds for UNSTORABLE
STORED = "a\ufffdb\ufffdc\ufffdd"


async def save_plan(store: Store, *, description: str = "") -> PlanVersion:
    """Save a plan whose document and source hold ``description``."""
    return await store.save_plan_version(
        workspace="default",
        name="deploy",
        source=f"name: deploy\ndescription: {description}\n",
        format="yaml",
        document={"name": "deploy", "description": description},
        digest="digest-1",
        created_by="alice",
        now=T0,
    )


def make_run(plan: PlanVersion, **changes: Any) -> Run:
    """Return version 1 of run_1 of ``plan``, with ``changes`` to its record."""
    run = Run(
        run_id="run_1",
        plan_id=plan.plan_id,
        plan_name=plan.name,
        plan_version=plan.version,
        version=1,
        created_at=T0,
    )
    return replace(run, **changes)


async def create_run(store: Store, **changes: Any) -> Run:
    """Create run_1 of a plan, with ``changes`` to its record."""
    run = make_run(await save_plan(store), **changes)
    await store.commit_run(RunCommit(run=run, expected_version=0))
    return run


def user(user_id: str, username: str) -> User:
    """Return a user created at T0."""
    return User(user_id=user_id, username=username, created_at=T0)


async def test_a_plan_document_and_source_are_stored_with_replacement_characters(
    store: Store,
) -> None:
    """NUL and lone surrogates in a plan's JSON document and its text become U+FFFD."""
    await save_plan(store, description=UNSTORABLE)

    stored = await store.get_plan_version(workspace="default", name="deploy")

    assert stored.document == {"name": "deploy", "description": STORED}
    assert stored.source == f"name: deploy\ndescription: {STORED}\n"


async def test_json_keys_and_nested_strings_are_stored_with_replacement_characters(
    store: Store,
) -> None:
    """A NUL in a key or deep in a list of a run's params becomes U+FFFD there too."""
    await create_run(store, params={"k\x00": [{"deep": UNSTORABLE}]})

    run = await store.get_run("run_1")

    assert run.params == {"k\ufffd": [{"deep": STORED}]}


async def test_json_text_every_store_holds_is_kept_as_it_is(store: Store) -> None:
    """Other characters, a surrogate pair's character and an escape's text stay."""
    params = {"text": "é 😀 \\u0000 \\ud800", "tab": "\t\x01"}
    await create_run(store, params=params)

    run = await store.get_run("run_1")

    assert run.params == params


async def test_a_run_param_with_a_nul_round_trips_as_a_replacement_character(
    store: Store,
) -> None:
    """The run's params, and the text of its record, come back with U+FFFD."""
    await create_run(store, params={"host": "web\x001"}, triggered_by=UNSTORABLE)

    run = await store.get_run("run_1")
    loaded = await store.load_run("run_1")

    assert run.params == {"host": "web\ufffd1"}
    assert run.triggered_by == STORED
    assert loaded.run == run


async def test_an_attempt_error_and_output_are_stored_with_replacement_characters(
    store: Store,
) -> None:
    """An attempt's error text and JSON output hold U+FFFD for what cannot be stored."""
    plan = await save_plan(store)
    attempt = Attempt(
        attempt_id="att_1",
        run_id="run_1",
        lane=LaneKey(0, 0),
        step=0,
        number=1,
        run_attempt=1,
        status=AttemptStatus.FAILED,
        queued_at=T0,
        error=UNSTORABLE,
        output={"stdout": UNSTORABLE},
    )
    await store.commit_run(
        RunCommit(run=make_run(plan), expected_version=0, attempts={"att_1": attempt})
    )

    stored = await store.get_attempt("att_1")

    assert stored.error == STORED
    assert stored.output == {"stdout": STORED}


async def test_a_log_line_with_a_nul_round_trips_as_a_replacement_character(
    store: Store,
) -> None:
    """A log line and its stream are read back with U+FFFD."""
    line = LogEntry(
        run_id="run_1", attempt_id="att_1", at=T0, stream="out\x00", line=UNSTORABLE
    )

    await store.append_logs([line])
    (stored,) = await store.read_logs("run_1")

    assert (stored.stream, stored.line) == ("out\ufffd", STORED)


async def test_lookups_by_keys_with_a_nul_find_nothing(access: FullStore) -> None:
    """A run, attempt, plan, user or workspace looked up by such a key is not found."""
    await create_run(access)

    with pytest.raises(errors.RunNotFoundError):
        await access.get_run("run_1\x00")
    with pytest.raises(errors.AttemptNotFoundError):
        await access.get_attempt("att\ud800")
    with pytest.raises(errors.PlanNotFoundError):
        await access.get_plan_version(workspace="default", name="deploy\x00")
    with pytest.raises(errors.UserNotFoundError):
        await access.get_user("usr\x00")
    with pytest.raises(errors.WorkspaceNotFoundError):
        await access.get_workspace("default\x00")
    assert await access.find_user("alice\x00") is None
    assert await access.find_credential("hash\x00") is None
    assert await access.get_run_numbers(["run_1\x00"]) == {}
    assert await access.list_bindings(user_id="usr\x00") == []
    assert await access.find_idempotency(workspace="default", key="k\x00") is None


async def test_a_username_is_stored_and_found_with_a_replacement_character(
    access: FullStore,
) -> None:
    """A user saved with a NUL in its name is found by that name, or by U+FFFD's."""
    await access.create_user(user("usr_1", "bob\x00"))

    by_nul = await access.find_user("bob\x00")
    by_replacement = await access.find_user("bob\ufffd")

    assert by_nul is not None
    assert by_nul.username == "bob\ufffd"
    assert by_replacement == by_nul
    assert await access.find_user("bob") is None


async def test_a_workspace_description_is_stored_with_replacement_characters(
    access: FullStore,
) -> None:
    """Free text of the access records (a description) holds U+FFFD as well."""
    await access.create_workspace(
        Workspace(name="ops", description=UNSTORABLE, created_at=T0)
    )

    stored = await access.get_workspace("ops")

    assert stored.description == STORED
