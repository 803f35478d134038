"""SecMaster golden answers: the seed replayed, whole bodies, RUNNING and RETRYING.

The runtime runs on a frozen clock (steps still run), so every time in an answer
is known: runs start at 2021-01-30 15:00:00 UTC and the clock is moved on by
hand. Ids the store makes (plans, data objects) are read from the records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from dialect_support import (
    MARKER_PLAN,
    QUICK_PLAN,
    SM_PROJECT,
    apply,
    halted_event_run,
    make_runtime,
    sm_answer,
    sm_error,
    sm_instances,
    sm_operate,
    start,
    wait_for,
)

from onward.api.dialects.secmaster.instances import retried
from onward.clock import FrozenClock
from onward.domain.runs import Run, RunStatus
from onward.runtime import Runtime
from onward.service.commands import Caller
from onward.service.ports import AuditEntry

SEED_ID: Final = "909494e3-558e-46b6-a9eb-07a8e18ca62f"
#: sorts after SEED_ID: listed before it, newest first by id
LATER_ID: Final = "a0000000-0000-4000-8000-000000000001"
START: Final = datetime(2021, 1, 30, 15, 0, tzinfo=UTC)
AT_START: Final = "2021-01-30T15:00:00Z+0000"
#: the operator's token (an hour long) still holds then
LATER: Final = "2021-01-30T15:30:00Z+0000"
WORKSPACE: Final = "soc"
#: the seed's example request, byte for byte, and its mandatory content-type
SEED_BODY: Final = b'{ "operation" : "RETRY" }'
SEED_TYPE: Final = {"content-type": "application/json;charset=UTF-8"}
#: halts at ``check`` until the marker exists, then waits for an approval
GATED_PLAN: Final = """
name: gated
params: {marker: {type: string}}
groups:
  - name: g
    targets: [a]
    steps:
      - {name: check, action: shell, with: {command: "test -f {{ run.params.marker }}"}}
      - {name: ok, action: approval, with: {message: go}}
"""
#: the same, but a critical failure ends the run failed
FAILING_GATED_PLAN: Final = GATED_PLAN.replace(
    "name: gated\n", "name: failing-gated\non_critical_failure: fail\n"
)


@pytest.fixture
def clock() -> FrozenClock:
    """Return a clock frozen at the seed's date."""
    return FrozenClock(START)


@pytest.fixture
def runtime(clock: FrozenClock) -> Runtime:
    """Return this module's runtime: on the frozen clock, still executing steps."""
    return make_runtime(clock=clock)


def playbook(run: Run) -> dict[str, str]:
    """Return the ``playbook`` of a run's instance (its plan, version 1)."""
    return {
        "id": run.plan_id,
        "version_id": f"{run.plan_id}-v1",
        "name": run.plan_name,
        "version": "v1",
    }


def event_instance(run: Run, **fields: Any) -> dict[str, Any]:
    """Return the whole instance of the halting event plan's run, ``fields`` apart."""
    return {
        "id": run.run_id,
        "name": "respond_20210130150000",
        "project_id": SM_PROJECT,
        "playbook": playbook(run),
        "dataclass": {"id": "alert", "name": "alert"},
        "dataobject": {
            "id": run.triggered_by,
            "name": "disk full",
            "create_time": AT_START,
            "update_time": AT_START,
            "project_id": SM_PROJECT,
            "dataclass_id": "alert",
            "content": '{"name": "disk full", "severity": "high"}',
        },
        "status": "FAILED",
        "trigger_type": "EVENT",
        "start_time": AT_START,
        "end_time": AT_START,
        **fields,
    }


def manual_instance(run: Run, **fields: Any) -> dict[str, Any]:
    """Return the whole instance of a manual run, ``fields`` apart."""
    return {
        "id": run.run_id,
        "name": f"{run.plan_name}_20210130150000",
        "project_id": SM_PROJECT,
        "playbook": playbook(run),
        "dataclass": None,
        "dataobject": None,
        "status": "FAILED",
        "trigger_type": "MANUAL",
        "start_time": AT_START,
        "end_time": AT_START,
        **fields,
    }


async def stopped_manual_run(
    runtime: Runtime, plan: tuple[str, str], marker: Path
) -> Run:
    """Start ``(name, text)``, failing until ``marker`` exists, as SEED_ID.

    Returns:
        The run once it halted (or failed, by its plan's ``on_critical_failure``).
    """
    name, text = plan
    await apply(runtime, text, workspace=WORKSPACE)
    run = await start(
        runtime,
        name,
        params={"marker": str(marker)},
        workspace=WORKSPACE,
        run_id=SEED_ID,
    )
    return await wait_for(
        runtime,
        run.run_id,
        lambda r: r.status in (RunStatus.HALTED, RunStatus.FAILED),
    )


# --- the seed -----------------------------------------------------------------------


@pytest.mark.parametrize("trigger", ["event", "manual"])
async def test_seed_retry_operation_is_answered_as_documented(
    runtime: Runtime,
    clock: FrozenClock,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
    trigger: str,
) -> None:
    """The seed's request gets every field of the seed's answer, then it finishes."""
    marker = tmp_path / "marker"
    if trigger == "event":
        run = await halted_event_run(runtime, marker, run_id=SEED_ID)
        expected = event_instance
    else:
        run = await stopped_manual_run(runtime, ("marker", MARKER_PLAN), marker)
        expected = manual_instance
    marker.touch()
    clock.advance(timedelta(minutes=30))

    retried_now = await secmaster.post(
        f"{sm_instances()}/{SEED_ID}/operation",
        content=SEED_BODY,
        headers={**operator, **SEED_TYPE},
    )
    await wait_for(runtime, SEED_ID, RunStatus.SUCCEEDED)
    shown = await secmaster.get(f"{sm_instances()}/{SEED_ID}", headers=operator)

    # the retry is a write: the instance was updated then
    assert sm_answer(retried_now) == expected(run, status="RETRYING", end_time=LATER)
    assert sm_answer(shown) == expected(run, status="FINISHED", end_time=LATER)


# --- list and show, whole -----------------------------------------------------------


async def test_the_list_answers_count_and_whole_instances(
    runtime: Runtime,
    clock: FrozenClock,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
) -> None:
    """The list's body is the count and each instance in full, newest first."""
    event = await halted_event_run(runtime, tmp_path / "marker", run_id=SEED_ID)
    await apply(runtime, QUICK_PLAN, workspace=WORKSPACE)
    clock.advance(timedelta(minutes=30))
    quick = await start(runtime, "quick", workspace=WORKSPACE, run_id=LATER_ID)
    await wait_for(runtime, quick.run_id, RunStatus.SUCCEEDED)

    response = await secmaster.get(
        sm_instances(), params={"limit": 10, "offset": 0}, headers=operator
    )

    assert sm_answer(response) == {
        "count": 2,
        "instances": [
            {
                **manual_instance(quick),
                "name": "quick_20210130153000",
                "status": "FINISHED",
                "start_time": LATER,
                "end_time": LATER,
            },
            event_instance(event),
        ],
    }


async def test_show_answers_the_whole_instance(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
) -> None:
    """Show answers one instance in full: a halted event run is FAILED."""
    run = await halted_event_run(runtime, tmp_path / "marker", run_id=SEED_ID)

    response = await secmaster.get(f"{sm_instances()}/{SEED_ID}", headers=operator)

    assert sm_answer(response) == event_instance(run)


async def test_an_empty_page_still_counts(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
) -> None:
    """An offset past the instances answers the count and no instances."""
    await halted_event_run(runtime, tmp_path / "marker")

    response = await secmaster.get(
        sm_instances(), params={"limit": 5, "offset": 1}, headers=operator
    )

    assert sm_answer(response) == {"count": 1, "instances": []}


# --- RUNNING and RETRYING -----------------------------------------------------------


async def statuses(
    secmaster: httpx.AsyncClient, headers: dict[str, str], instance_id: str
) -> dict[str, Any]:
    """Return an instance's shown status and the ids each status filter lists."""
    shown = await secmaster.get(f"{sm_instances()}/{instance_id}", headers=headers)
    listed = {}
    for status in ("RUNNING", "RETRYING"):
        page = await secmaster.get(
            sm_instances(),
            params={"limit": 10, "offset": 0, "status": status},
            headers=headers,
        )
        listed[status] = [i["id"] for i in sm_answer(page)["instances"]]
    return {"shown": sm_answer(shown)["status"], **listed}


async def retry_until_waiting(
    runtime: Runtime, secmaster: httpx.AsyncClient, headers: dict[str, str], run: Run
) -> httpx.Response:
    """Send SecMaster's RETRY of a gated run; return the answer once the run waits."""
    answer = await sm_operate(secmaster, headers, run.run_id, "RETRY")
    await wait_for(runtime, run.run_id, RunStatus.WAITING)
    return answer


@pytest.mark.parametrize(
    ("plan", "attempt"),
    [(("gated", GATED_PLAN), 1), (("failing-gated", FAILING_GATED_PLAN), 2)],
    ids=["halted", "failed"],
)
async def test_an_instance_retried_is_retrying_while_it_runs(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
    plan: tuple[str, str],
    attempt: int,
) -> None:
    """A halted or failed run that RETRY set going (here, waiting) shows RETRYING."""
    run = await stopped_manual_run(runtime, plan, tmp_path / "marker")
    (tmp_path / "marker").touch()

    operated = await retry_until_waiting(runtime, secmaster, operator, run)
    seen = await statuses(secmaster, operator, run.run_id)

    assert (await runtime.store.get_run(run.run_id)).run_attempt == attempt
    assert sm_answer(operated)["status"] == "RETRYING"
    assert seen == {"shown": "RETRYING", "RUNNING": [], "RETRYING": [run.run_id]}


async def test_a_halted_instance_continued_past_its_step_is_running(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
) -> None:
    """A halted run an operator continued by proceeding (no retry) shows RUNNING."""
    run = await stopped_manual_run(runtime, ("gated", GATED_PLAN), tmp_path / "marker")

    await runtime.commands.continue_run(
        run.run_id, "proceed-step", caller=Caller(workspace=WORKSPACE)
    )
    await wait_for(runtime, run.run_id, RunStatus.WAITING)
    seen = await statuses(secmaster, operator, run.run_id)

    assert seen == {"shown": "RUNNING", "RUNNING": [run.run_id], "RETRYING": []}


async def test_a_retry_refused_names_the_retrying_status(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
) -> None:
    """RETRY of a RETRYING instance is refused in the words of that status."""
    run = await stopped_manual_run(runtime, ("gated", GATED_PLAN), tmp_path / "marker")
    (tmp_path / "marker").touch()
    await retry_until_waiting(runtime, secmaster, operator, run)

    again = await sm_operate(secmaster, operator, run.run_id, "RETRY")

    assert sm_error(again, 400, "SecMaster.00040009") == (
        f"Cannot RETRY playbook instance {run.run_id}: it is RETRYING; "
        "only a FAILED playbook instance can be retried."
    )


def _entry(command: str, **details: Any) -> AuditEntry:
    return AuditEntry(run_id="r", at=START, actor="a", command=command, details=details)


@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        ([], False),
        ([("start", {})], False),
        ([("continue", {"option": "retry-step"})], True),
        ([("continue", {"option": "retry-target"}), ("approve", {})], True),
        ([("continue", {"option": "retry-group"})], True),
        ([("continue", {"option": "proceed-step"})], False),
        (
            [
                ("continue", {"option": "retry-step"}),
                ("continue", {"option": "proceed-group"}),
            ],
            False,
        ),
        ([("retry", {})], True),
        ([("retry", {}), ("resume", {"step": 0})], False),
    ],
)
def test_the_last_command_that_set_a_run_going_tells_whether_it_retried(
    commands: list[tuple[str, dict[str, Any]]], expected: bool
) -> None:
    """Only a retry (or a retry option) as the last revival makes a run retried."""
    audit = [_entry(command, **details) for command, details in commands]

    assert retried(audit) is expected
