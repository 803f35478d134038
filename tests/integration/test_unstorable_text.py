"""Steps whose output holds NUL or lone surrogates, run for real over every store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import pytest

from onward.config import Settings
from onward.domain.runs import AttemptStatus, RunStatus
from onward.runtime import Runtime
from onward.service.ports import FullStore, Store

#: a shell step printing NUL to both streams; a python step returning NUL and
#: a lone surrogate (in a key too); a non-critical step failing with NUL in its
#: last stderr line (its error); then a step that shows the run went on
PLAN = r"""
name: unstorable
groups:
  - name: g
    targets: [t]
    steps:
      - name: shell
        action: shell
        with: {command: "printf 'a\\000b\\n'; printf 'err\\000x' >&2"}
      - name: python
        action: python
        with:
          function: "json:loads"
          kwargs: {s: '{"key\u0000": ["a\u0000b", "\ud800", "\ud83d\ude00"]}'}
      - name: failing
        action: shell
        critical: false
        with: {command: "printf 'bad\\000news' >&2; exit 3"}
      - {name: after, action: noop}
"""


@pytest.fixture
async def runtime(store: Store) -> AsyncIterator[Runtime]:
    """Yield a started runtime that executes steps, over each kind of store."""
    settings = Settings(concurrency=2, heartbeat_timeout=60, shutdown_grace=1)
    runtime = Runtime.open(settings, executes=True, store=cast("FullStore", store))
    await runtime.start()
    yield runtime
    await runtime.close()


async def test_nul_and_lone_surrogates_are_stored_as_replacement_characters(
    runtime: Runtime,
) -> None:
    """Every store records U+FFFD for them; the steps end and the run goes on."""
    await runtime.commands.apply_plan(PLAN)

    run = await runtime.commands.start_run("unstorable")
    assert runtime.executor is not None
    await runtime.executor.drain()
    final = await runtime.store.get_run(run.run_id)
    attempts = {a.step: a for a in await runtime.store.list_attempts(run.run_id)}
    logs = await runtime.queries.logs(run.run_id)

    assert final.status is RunStatus.SUCCEEDED
    assert final.warnings == 1
    assert [attempts[i].status for i in range(4)] == [
        AttemptStatus.SUCCEEDED,
        AttemptStatus.SUCCEEDED,
        AttemptStatus.FAILED,
        AttemptStatus.SUCCEEDED,
    ]
    assert attempts[0].output["stdout"] == "a\ufffdb\n"
    assert attempts[0].output["stderr"] == "err\ufffdx"
    assert attempts[1].output == {"result": {"key\ufffd": ["a\ufffdb", "\ufffd", "😀"]}}
    assert attempts[2].error == "command exited with code 3: bad\ufffdnews"
    assert [(entry.stream, entry.line) for entry in logs] == [
        ("stdout", "a\ufffdb"),
        ("stderr", "err\ufffdx"),
        ("info", "calling json:loads"),
        ("stderr", "bad\ufffdnews"),
    ]
