"""
The Store contract: every adapter (memory, sqlite, postgres) behaves the same.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from onward import errors
from onward.domain.runs import (
    Attempt,
    AttemptStatus,
    CancelMode,
    HaltPoint,
    Lane,
    LaneKey,
    Run,
    RunStatus,
    StageProgress,
    StepState,
    StepStatus,
    TargetStatus,
    Trigger,
)
from onward.service.ports import (
    AuditEntry,
    IdempotencyRecord,
    LogEntry,
    PlanVersion,
    RunCommit,
    RunFilter,
    Store,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


# --- helpers ------------------------------------------------------------------------


async def save_plan(
    store: Store,
    name: str = "deploy",
    *,
    workspace: str = "default",
    digest: str = "digest-1",
    now: datetime = T0,
) -> PlanVersion:
    """Save a plan version whose document is told apart by its digest."""
    return await store.save_plan_version(
        workspace=workspace,
        name=name,
        source=f"name: {name}  # {digest}\n",
        format="yaml",
        document={"name": name, "digest": digest},
        digest=digest,
        created_by="alice",
        now=now,
    )


def make_run(plan: PlanVersion, run_id: str, **changes: Any) -> Run:
    """Return a version-1 run of ``plan``."""
    run = Run(
        run_id=run_id,
        plan_id=plan.plan_id,
        plan_name=plan.name,
        plan_version=plan.version,
        workspace=plan.workspace,
        version=1,
        created_at=T0,
    )
    return replace(run, **changes)


def make_attempt(attempt_id: str, *, run_id: str = "run_1", **changes: Any) -> Attempt:
    """Return a queued first attempt of step 0 of lane (0, 0) of run_1."""
    attempt = Attempt(
        attempt_id=attempt_id,
        run_id=run_id,
        lane=LaneKey(0, 0),
        step=0,
        number=1,
        run_attempt=1,
        status=AttemptStatus.QUEUED,
        queued_at=T0,
    )
    return replace(attempt, **changes)


def make_audit(run_id: str, command: str, *, at: datetime = T0) -> AuditEntry:
    """Return an audit entry of ``command`` on a run."""
    return AuditEntry(
        run_id=run_id,
        at=at,
        actor="alice",
        command=command,
        reason=f"because {command}",
        status_before="running",
        status_after="halted",
        details={"option": command, "points": [[0, 1]]},
    )


async def create_run(
    store: Store,
    plan: PlanVersion,
    run_id: str,
    *,
    attempts: tuple[Attempt, ...] = (),
    lanes: tuple[Lane, ...] = (),
    **changes: Any,
) -> Run:
    """Create a run (version 1) with some attempts and lanes; return it."""
    run = make_run(plan, run_id, **changes)
    await store.commit_run(
        RunCommit(
            run=run,
            expected_version=0,
            lanes={lane.key: lane for lane in lanes},
            attempts={attempt.attempt_id: attempt for attempt in attempts},
        )
    )
    return run


async def update_run(
    store: Store, run: Run, *, attempts: tuple[Attempt, ...] = (), **changes: Any
) -> Run:
    """Commit the next version of a run with some attempts; return it."""
    new = replace(run, version=run.version + 1, **changes)
    await store.commit_run(
        RunCommit(
            run=new,
            expected_version=run.version,
            attempts={attempt.attempt_id: attempt for attempt in attempts},
        )
    )
    return new


def make_key() -> IdempotencyRecord:
    """Return the record of idempotency key ``key-1``, taken by starting run_1."""
    return IdempotencyRecord(
        workspace="default",
        key="key-1",
        command="start_run",
        request_digest="r1",
        run_id="run_1",
        created_at=T0,
    )


def ids(attempts: list[Attempt]) -> list[str]:
    """Return the ids of attempts, in their order."""
    return [attempt.attempt_id for attempt in attempts]


# --- plans --------------------------------------------------------------------------


async def test_saving_a_new_plan_stores_version_one_with_every_field(
    store: Store,
) -> None:
    """A plan saved for the first time gets version 1 and keeps what it was given."""
    saved = await save_plan(store)

    loaded = await store.get_plan_version(workspace="default", name="deploy")

    assert saved.version == 1
    assert loaded == saved
    assert loaded.source == "name: deploy  # digest-1\n"
    assert loaded.format == "yaml"
    assert loaded.document == {"name": "deploy", "digest": "digest-1"}
    assert loaded.created_at == T0
    assert loaded.created_by == "alice"


async def test_saving_a_changed_document_adds_a_version_of_the_same_plan(
    store: Store,
) -> None:
    """A document with another digest becomes the next version of the same plan."""
    first = await save_plan(store, digest="digest-1")

    second = await save_plan(store, digest="digest-2", now=T0 + MINUTE)

    assert second.version == 2
    assert second.plan_id == first.plan_id
    assert second.created_at == T0 + MINUTE


async def test_saving_an_identical_document_returns_the_latest_version(
    store: Store,
) -> None:
    """A document with the latest version's digest makes no new version."""
    await save_plan(store, digest="digest-1")
    latest = await save_plan(store, digest="digest-2")

    again = await save_plan(store, digest="digest-2", now=T0 + MINUTE)

    assert again == latest
    assert len(await store.list_plan_versions(workspace="default", name="deploy")) == 2


async def test_get_plan_version_returns_the_latest_or_the_one_asked_for(
    store: Store,
) -> None:
    """Without a version the latest is returned; with one, that version."""
    first = await save_plan(store, digest="digest-1")
    second = await save_plan(store, digest="digest-2")

    latest = await store.get_plan_version(workspace="default", name="deploy")
    asked = await store.get_plan_version(workspace="default", name="deploy", version=1)

    assert latest == second
    assert asked == first


async def test_get_plan_version_raises_plan_not_found_for_an_unknown_plan_or_version(
    store: Store,
) -> None:
    """An unknown plan, or an unknown version of a known plan, is not found."""
    await save_plan(store)

    with pytest.raises(errors.PlanNotFoundError) as unknown_plan:
        await store.get_plan_version(workspace="default", name="missing")
    with pytest.raises(errors.PlanNotFoundError) as unknown_version:
        await store.get_plan_version(workspace="default", name="deploy", version=2)
    with pytest.raises(errors.PlanNotFoundError):
        await store.get_plan_version(workspace="other", name="deploy")

    assert unknown_plan.value.plan == "missing"
    assert unknown_version.value.version == 2


async def test_list_plans_returns_the_workspace_plans_by_name_with_latest_versions(
    store: Store,
) -> None:
    """Plans are listed by name with their latest version and its time."""
    await save_plan(store, "zeta")
    await save_plan(store, "alpha", digest="digest-1", now=T0)
    await save_plan(store, "alpha", digest="digest-2", now=T0 + MINUTE)
    await save_plan(store, "elsewhere", workspace="other")

    plans = await store.list_plans(workspace="default")

    assert [plan.name for plan in plans] == ["alpha", "zeta"]
    assert plans[0].latest_version == 2
    assert plans[0].created_at == T0
    assert plans[0].updated_at == T0 + MINUTE
    assert plans[0].workspace == "default"


async def test_list_plan_versions_returns_every_version_oldest_first(
    store: Store,
) -> None:
    """Every version of a plan is listed, oldest first."""
    first = await save_plan(store, digest="digest-1")
    second = await save_plan(store, digest="digest-2")

    versions = await store.list_plan_versions(workspace="default", name="deploy")

    assert versions == [first, second]


async def test_list_plan_versions_raises_plan_not_found_for_an_unknown_plan(
    store: Store,
) -> None:
    """Listing the versions of an unknown plan raises PlanNotFoundError."""
    with pytest.raises(errors.PlanNotFoundError):
        await store.list_plan_versions(workspace="default", name="missing")


async def test_plans_of_the_same_name_in_two_workspaces_are_separate(
    store: Store,
) -> None:
    """A plan name is scoped by its workspace."""
    mine = await save_plan(store, workspace="default", digest="digest-1")

    theirs = await save_plan(store, workspace="other", digest="digest-2")

    assert theirs.version == 1
    assert theirs.plan_id != mine.plan_id


async def test_delete_plan_removes_the_plan_and_its_versions(store: Store) -> None:
    """A deleted plan is gone; saving its name again starts a new plan at version 1."""
    old = await save_plan(store, digest="digest-1")
    await save_plan(store, digest="digest-2")

    await store.delete_plan(workspace="default", name="deploy")

    with pytest.raises(errors.PlanNotFoundError):
        await store.get_plan_version(workspace="default", name="deploy")
    assert await store.list_plans(workspace="default") == []
    new = await save_plan(store, digest="digest-1")
    assert new.version == 1
    assert new.plan_id != old.plan_id


async def test_delete_plan_refuses_a_plan_that_runs_use(store: Store) -> None:
    """A plan with runs cannot be deleted and stays as it was."""
    plan = await save_plan(store)
    await create_run(store, plan, "run_1")

    with pytest.raises(errors.PlanInUseError):
        await store.delete_plan(workspace="default", name="deploy")

    assert await store.get_plan_version(workspace="default", name="deploy") == plan


async def test_delete_plan_raises_plan_not_found_for_an_unknown_plan(
    store: Store,
) -> None:
    """Deleting an unknown plan raises PlanNotFoundError."""
    with pytest.raises(errors.PlanNotFoundError):
        await store.delete_plan(workspace="default", name="missing")


# --- commit_run: compare-and-set ----------------------------------------------------


async def test_commit_with_expected_version_zero_creates_the_run(store: Store) -> None:
    """A commit expecting version 0 creates the run as given."""
    plan = await save_plan(store)

    run = await create_run(store, plan, "run_1")

    assert await store.get_run("run_1") == run


async def test_commit_with_expected_version_zero_refuses_an_existing_run(
    store: Store,
) -> None:
    """Creating a run that exists raises StaleStateError and keeps the stored run."""
    plan = await save_plan(store)
    run = await create_run(store, plan, "run_1")

    with pytest.raises(errors.StaleStateError):
        await create_run(store, plan, "run_1", status=RunStatus.RUNNING)

    assert await store.get_run("run_1") == run


async def test_commit_with_the_stored_version_updates_the_run(store: Store) -> None:
    """A commit expecting the stored version replaces the run."""
    plan = await save_plan(store)
    run = await create_run(store, plan, "run_1")

    updated = await update_run(store, run, status=RunStatus.RUNNING, started_at=T0)

    assert await store.get_run("run_1") == updated


async def test_commit_with_a_stale_version_raises_and_writes_nothing(
    store: Store,
) -> None:
    """A stale commit raises StaleStateError; run, lanes, attempts, audit stay."""
    plan = await save_plan(store)
    lane = Lane.fresh(LaneKey(0, 0), 2)
    queued = make_attempt("att_1")
    run = await create_run(store, plan, "run_1", attempts=(queued,), lanes=(lane,))
    current = await update_run(store, run, status=RunStatus.RUNNING)
    stale = RunCommit(
        run=replace(run, version=2, status=RunStatus.HALTED),
        expected_version=run.version,
        lanes={lane.key: replace(lane, status=TargetStatus.FAILED, halted=True)},
        attempts={
            "att_1": replace(queued, status=AttemptStatus.FAILED),
            "att_2": make_attempt("att_2"),
        },
        audit=(make_audit("run_1", "continue"),),
        idempotency=IdempotencyRecord(
            workspace="default",
            key="k-1",
            command="continue",
            request_digest="r",
            run_id="run_1",
            created_at=T0,
        ),
    )

    with pytest.raises(errors.StaleStateError):
        await store.commit_run(stale)

    assert await store.get_run("run_1") == current
    assert await store.list_lanes("run_1") == [lane]
    assert await store.list_attempts("run_1") == [queued]
    assert await store.list_audit("run_1") == []
    assert await store.find_idempotency(workspace="default", key="k-1") is None


async def test_commit_to_a_run_that_does_not_exist_raises_stale_state(
    store: Store,
) -> None:
    """Updating a run that was never created raises StaleStateError."""
    plan = await save_plan(store)

    with pytest.raises(errors.StaleStateError):
        await store.commit_run(
            RunCommit(run=make_run(plan, "run_1"), expected_version=3)
        )

    with pytest.raises(errors.RunNotFoundError):
        await store.get_run("run_1")


# --- round trips --------------------------------------------------------------------


async def test_a_run_round_trips_with_every_field(store: Store) -> None:
    """Every field of a run comes back as stored, enums as enums, datetimes aware."""
    plan = await save_plan(store)
    run = make_run(
        plan,
        "run_1",
        procedure="failover",
        status=RunStatus.HALTED,
        params={"site": "dr", "count": 3, "ratio": 0.5, "tags": ["a", "b"], "x": None},
        run_attempt=2,
        started_at=T0 + MINUTE,
        finished_at=T0 + 2 * MINUTE,
        stages=(StageProgress(next_target=2, active=1), StageProgress()),
        halt_points=(HaltPoint(lane=LaneKey(0, 1), step=2, error="disk full: ü"),),
        holding=True,
        failing=True,
        cancel_mode=CancelMode.FORCE,
        ready=(LaneKey(1, 0), LaneKey(0, 3)),
        warnings=4,
        trigger=Trigger.TIMER,
        triggered_by="nightly",
        chain=True,
    )
    await store.commit_run(RunCommit(run=run, expected_version=0))

    loaded = await store.get_run("run_1")

    assert loaded == run
    assert type(loaded.status) is RunStatus
    assert type(loaded.cancel_mode) is CancelMode
    assert type(loaded.trigger) is Trigger
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.ready == (LaneKey(1, 0), LaneKey(0, 3))


async def test_a_lane_round_trips_with_every_field(store: Store) -> None:
    """Every field of a lane, its step states included, comes back as stored."""
    plan = await save_plan(store)
    lane = Lane(
        key=LaneKey(1, 2),
        status=TargetStatus.FAILED,
        cursor=1,
        steps=(
            StepState(status=StepStatus.SUCCEEDED, tries=1, attempts=1),
            StepState(status=StepStatus.FAILED, tries=3, attempts=4, error="exit 2"),
            StepState(),
        ),
        halted=True,
    )

    await create_run(store, plan, "run_1", lanes=(lane,))
    loaded = await store.list_lanes("run_1")

    assert loaded == [lane]
    assert type(loaded[0].status) is TargetStatus
    assert type(loaded[0].steps[0].status) is StepStatus
    assert (await store.load_run("run_1")).lanes == {lane.key: lane}


async def test_an_attempt_round_trips_with_every_field(store: Store) -> None:
    """Every field of an attempt comes back as stored, datetimes timezone-aware."""
    plan = await save_plan(store)
    attempt = make_attempt(
        "att_1",
        lane=LaneKey(2, 5),
        step=3,
        number=2,
        run_attempt=2,
        status=AttemptStatus.TIMED_OUT,
        not_before=T0 + MINUTE,
        started_at=T0 + 2 * MINUTE,
        finished_at=T0 + 3 * MINUTE,
        worker_id="wrk_1",
        approval=True,
        deadline_at=T0 + 4 * MINUTE,
        queue="site-b",
        error="timed out after 30s",
        output={"stdout": "ok\n", "code": 0, "items": [1, {"k": "v"}]},
        input_overrides={"command": "echo again"},
    )

    await create_run(store, plan, "run_1", attempts=(attempt,))
    loaded = await store.get_attempt("att_1")

    assert loaded == attempt
    assert await store.list_attempts("run_1") == [attempt]
    assert type(loaded.status) is AttemptStatus
    assert loaded.lane == LaneKey(2, 5)
    assert all(
        moment is not None and moment.utcoffset() == timedelta(0)
        for moment in (loaded.queued_at, loaded.started_at, loaded.deadline_at)
    )


async def test_datetimes_in_another_timezone_come_back_as_the_same_instant(
    store: Store,
) -> None:
    """A datetime stored with a non-UTC offset comes back equal and timezone-aware."""
    plan = await save_plan(store)
    tokyo = datetime(2026, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=9)))

    await create_run(store, plan, "run_1", started_at=tokyo)
    loaded = await store.get_run("run_1")

    assert loaded.started_at == T0
    assert loaded.started_at is not None
    assert loaded.started_at.utcoffset() is not None


async def test_lanes_are_upserted_and_listed_in_stage_then_target_order(
    store: Store,
) -> None:
    """A commit replaces the lanes it names and keeps the others, listed in order."""
    plan = await save_plan(store)
    first = Lane.fresh(LaneKey(1, 0), 1)
    second = Lane.fresh(LaneKey(0, 1), 1)
    run = await create_run(store, plan, "run_1", lanes=(first, second))
    moved = replace(second, cursor=1, status=TargetStatus.SUCCEEDED)
    third = Lane.fresh(LaneKey(0, 0), 1)

    await store.commit_run(
        RunCommit(
            run=replace(run, version=2),
            expected_version=1,
            lanes={moved.key: moved, third.key: third},
        )
    )

    assert await store.list_lanes("run_1") == [third, moved, first]


async def test_listing_lanes_or_attempts_of_an_unknown_run_raises_run_not_found(
    store: Store,
) -> None:
    """Lanes and attempts of a run that does not exist are not found."""
    with pytest.raises(errors.RunNotFoundError):
        await store.list_lanes("run_missing")
    with pytest.raises(errors.RunNotFoundError):
        await store.list_attempts("run_missing")


async def test_getting_an_unknown_run_or_attempt_raises_not_found(store: Store) -> None:
    """get_run, load_run and get_attempt raise their not-found errors."""
    with pytest.raises(errors.RunNotFoundError):
        await store.get_run("run_missing")
    with pytest.raises(errors.RunNotFoundError):
        await store.load_run("run_missing")
    with pytest.raises(errors.AttemptNotFoundError):
        await store.get_attempt("att_missing")


async def test_attempts_are_listed_in_the_order_they_were_first_stored(
    store: Store,
) -> None:
    """Attempts keep their first place even when a later commit updates them."""
    plan = await save_plan(store)
    first = make_attempt("att_z", queued_at=T0 + MINUTE)
    second = make_attempt("att_a", queued_at=T0 + MINUTE)
    run = await create_run(store, plan, "run_1", attempts=(first, second))
    finished = replace(first, status=AttemptStatus.SUCCEEDED, finished_at=T0 + MINUTE)
    third = make_attempt("att_m", queued_at=T0)

    await update_run(store, run, attempts=(third, finished))

    assert ids(await store.list_attempts("run_1")) == ["att_z", "att_a", "att_m"]
    assert (await store.get_attempt("att_z")) == finished


async def test_load_run_returns_the_run_its_lanes_and_only_attempts_in_flight(
    store: Store,
) -> None:
    """load_run returns queued and running attempts but no finished ones."""
    plan = await save_plan(store)
    lane = Lane.fresh(LaneKey(0, 0), 3)
    attempts = (
        make_attempt("att_done", status=AttemptStatus.SUCCEEDED),
        make_attempt("att_running", status=AttemptStatus.RUNNING),
        make_attempt("att_failed", status=AttemptStatus.FAILED),
        make_attempt("att_queued"),
        make_attempt("att_lost", status=AttemptStatus.INTERRUPTED),
    )
    run = await create_run(store, plan, "run_1", attempts=attempts, lanes=(lane,))

    loaded = await store.load_run("run_1")

    assert loaded.run == run
    assert loaded.lanes == {lane.key: lane}
    assert list(loaded.attempts) == ["att_running", "att_queued"]
    assert loaded.attempts["att_running"] == attempts[1]


# --- list_runs ----------------------------------------------------------------------


async def test_list_runs_returns_the_workspace_runs_newest_first(store: Store) -> None:
    """Runs of the workspace are listed by descending run id; others are left out."""
    plan = await save_plan(store)
    other_plan = await save_plan(store, workspace="other")
    for run_id in ("run_002", "run_001", "run_003"):
        await create_run(store, plan, run_id)
    await create_run(store, other_plan, "run_004")

    page = await store.list_runs(RunFilter())

    assert [run.run_id for run in page.runs] == ["run_003", "run_002", "run_001"]
    assert page.next_cursor is None


async def test_list_runs_filters_by_plan_name(store: Store) -> None:
    """Only runs of the named plan are listed."""
    deploy = await save_plan(store, "deploy")
    backup = await save_plan(store, "backup")
    await create_run(store, deploy, "run_001")
    await create_run(store, backup, "run_002")

    page = await store.list_runs(RunFilter(plan_name="backup"))

    assert [run.run_id for run in page.runs] == ["run_002"]


async def test_list_runs_filters_by_statuses(store: Store) -> None:
    """Only runs in one of the given statuses are listed."""
    plan = await save_plan(store)
    await create_run(store, plan, "run_001", status=RunStatus.RUNNING)
    await create_run(store, plan, "run_002", status=RunStatus.SUCCEEDED)
    await create_run(store, plan, "run_003", status=RunStatus.HALTED)

    page = await store.list_runs(
        RunFilter(statuses=(RunStatus.RUNNING, RunStatus.HALTED))
    )

    assert [run.run_id for run in page.runs] == ["run_003", "run_001"]


async def test_list_runs_filters_by_creation_time_after_inclusive_before_exclusive(
    store: Store,
) -> None:
    """created_after includes its instant; created_before excludes its instant."""
    plan = await save_plan(store)
    for index in range(4):
        await create_run(store, plan, f"run_00{index}", created_at=T0 + index * MINUTE)

    page = await store.list_runs(
        RunFilter(created_after=T0 + MINUTE, created_before=T0 + 3 * MINUTE)
    )

    assert [run.run_id for run in page.runs] == ["run_002", "run_001"]


async def test_list_runs_pages_through_every_run_without_duplicates_or_gaps(
    store: Store,
) -> None:
    """Following next_cursor visits every run once, newest first, then stops."""
    plan = await save_plan(store)
    run_ids = [f"run_{index:03d}" for index in range(7)]
    for run_id in run_ids:
        await create_run(store, plan, run_id)

    seen: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        page = await store.list_runs(RunFilter(limit=3, cursor=cursor))
        seen.extend(run.run_id for run in page.runs)
        sizes.append(len(page.runs))
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == sorted(run_ids, reverse=True)
    assert sizes == [3, 3, 1]


async def test_list_runs_gives_no_cursor_when_the_last_page_is_full(
    store: Store,
) -> None:
    """A page that holds the last run has no next cursor, even when it is full."""
    plan = await save_plan(store)
    for index in range(4):
        await create_run(store, plan, f"run_{index:03d}")

    first = await store.list_runs(RunFilter(limit=2))
    last = await store.list_runs(RunFilter(limit=2, cursor=first.next_cursor))

    assert first.next_cursor == "run_002"
    assert [run.run_id for run in last.runs] == ["run_001", "run_000"]
    assert last.next_cursor is None


async def test_list_runs_with_limit_zero_returns_an_empty_page(store: Store) -> None:
    """A limit of zero returns no runs and no cursor."""
    plan = await save_plan(store)
    await create_run(store, plan, "run_001")

    page = await store.list_runs(RunFilter(limit=0))

    assert page.runs == ()
    assert page.next_cursor is None


# --- step outputs, audit, idempotency -----------------------------------------------


async def test_step_outputs_pick_the_latest_succeeded_attempt_of_each_step(
    store: Store,
) -> None:
    """Each step's output is its latest succeeded attempt's; other lanes are ignored."""
    plan = await save_plan(store)
    ok = AttemptStatus.SUCCEEDED
    run = await create_run(
        store,
        plan,
        "run_1",
        attempts=(
            make_attempt("att_1", status=ok, output={"v": 1}),
            make_attempt("att_2", step=1, status=ok, output={"x": 1}),
            make_attempt("att_3", lane=LaneKey(0, 1), status=ok, output={"o": 1}),
        ),
    )
    await update_run(
        store,
        run,
        attempts=(
            make_attempt("att_4", number=2, status=ok, output={"v": 2}),
            make_attempt(
                "att_5",
                step=1,
                number=2,
                status=AttemptStatus.FAILED,
                output={"x": 2},
            ),
        ),
    )

    outputs = await store.step_outputs("run_1", LaneKey(0, 0))

    assert outputs == {0: {"v": 2}, 1: {"x": 1}}
    assert await store.step_outputs("run_1", LaneKey(9, 9)) == {}


async def test_audit_entries_are_kept_oldest_first_across_commits(store: Store) -> None:
    """Audit entries of successive commits are listed in the order they were saved."""
    plan = await save_plan(store)
    run = make_run(plan, "run_1")
    started = make_audit("run_1", "start")
    halted = make_audit("run_1", "continue", at=T0 + MINUTE)
    cancelled = make_audit("run_1", "cancel", at=T0 + MINUTE)
    await store.commit_run(RunCommit(run=run, expected_version=0, audit=(started,)))

    await store.commit_run(
        RunCommit(
            run=replace(run, version=2),
            expected_version=1,
            audit=(halted, cancelled),
        )
    )

    assert await store.list_audit("run_1") == [started, halted, cancelled]
    assert await store.list_audit("run_other") == []


async def test_find_idempotency_returns_the_record_saved_with_a_commit(
    store: Store,
) -> None:
    """An idempotency record committed with a run is found by workspace and key."""
    plan = await save_plan(store)
    record = IdempotencyRecord(
        workspace="default",
        key="key-1",
        command="start_run",
        request_digest="sha256:abc",
        run_id="run_1",
        response={"run_id": "run_1", "status": "pending"},
        created_at=T0,
    )

    await store.commit_run(
        RunCommit(run=make_run(plan, "run_1"), expected_version=0, idempotency=record)
    )

    assert await store.find_idempotency(workspace="default", key="key-1") == record
    assert await store.find_idempotency(workspace="other", key="key-1") is None
    assert await store.find_idempotency(workspace="default", key="key-2") is None


async def test_a_commit_with_a_taken_idempotency_key_raises_and_writes_nothing(
    store: Store,
) -> None:
    """Reusing an idempotency key raises StaleStateError and rolls the commit back."""
    plan = await save_plan(store)
    record = make_key()
    await store.commit_run(
        RunCommit(run=make_run(plan, "run_1"), expected_version=0, idempotency=record)
    )
    duplicate = RunCommit(
        run=make_run(plan, "run_2"),
        expected_version=0,
        lanes={LaneKey(0, 0): Lane.fresh(LaneKey(0, 0), 1)},
        attempts={"att_1": make_attempt("att_1", run_id="run_2")},
        audit=(make_audit("run_2", "start"),),
        idempotency=replace(record, run_id="run_2", request_digest="r2"),
    )

    with pytest.raises(errors.StaleStateError):
        await store.commit_run(duplicate)

    with pytest.raises(errors.RunNotFoundError):
        await store.get_run("run_2")
    with pytest.raises(errors.AttemptNotFoundError):
        await store.get_attempt("att_1")
    assert await store.list_audit("run_2") == []
    assert await store.find_idempotency(workspace="default", key="key-1") == record


async def test_the_same_idempotency_key_may_be_used_in_another_workspace(
    store: Store,
) -> None:
    """Idempotency keys are scoped by workspace."""
    plan = await save_plan(store)
    record = IdempotencyRecord(
        workspace="default",
        key="key-1",
        command="start_run",
        request_digest="r",
        run_id="run_1",
        created_at=T0,
    )
    await store.commit_run(
        RunCommit(run=make_run(plan, "run_1"), expected_version=0, idempotency=record)
    )
    theirs = replace(record, workspace="other", run_id="run_2")

    await store.commit_run(
        RunCommit(run=make_run(plan, "run_2"), expected_version=0, idempotency=theirs)
    )

    assert await store.find_idempotency(workspace="other", key="key-1") == theirs


# --- logs ---------------------------------------------------------------------------


def log_line(run_id: str, line: str, attempt_id: str | None = "att_1") -> LogEntry:
    """Return a stdout log line of an attempt."""
    return LogEntry(
        run_id=run_id, attempt_id=attempt_id, at=T0, stream="stdout", line=line
    )


async def test_appended_logs_are_read_back_in_order_with_increasing_seq(
    store: Store,
) -> None:
    """Log lines come back in the order appended, numbered by increasing seq."""
    given = [
        log_line("run_1", "one"),
        log_line("run_2", "elsewhere"),
        log_line("run_1", "two", attempt_id=None),
        LogEntry(
            run_id="run_1",
            attempt_id="att_2",
            at=T0 + MINUTE,
            stream="stderr",
            line="three ü",
        ),
    ]
    await store.append_logs(given[:2])
    await store.append_logs(given[2:])

    lines = await store.read_logs("run_1")

    assert [replace(line, seq=0) for line in lines] == [given[0], given[2], given[3]]
    assert all(line.seq > 0 for line in lines)
    assert [line.seq for line in lines] == sorted({line.seq for line in lines})


async def test_read_logs_returns_only_lines_after_the_given_seq(store: Store) -> None:
    """Lines at or before after_seq are left out."""
    await store.append_logs([log_line("run_1", text) for text in ("a", "b", "c")])
    first = (await store.read_logs("run_1"))[0]

    lines = await store.read_logs("run_1", after_seq=first.seq)

    assert [line.line for line in lines] == ["b", "c"]


async def test_read_logs_filters_by_attempt(store: Store) -> None:
    """Only the lines of the given attempt are returned when one is named."""
    await store.append_logs(
        [
            log_line("run_1", "a", attempt_id="att_1"),
            log_line("run_1", "b", attempt_id="att_2"),
            log_line("run_1", "c", attempt_id="att_1"),
        ]
    )

    lines = await store.read_logs("run_1", attempt_id="att_1")

    assert [line.line for line in lines] == ["a", "c"]


async def test_read_logs_returns_at_most_limit_lines(store: Store) -> None:
    """No more than ``limit`` lines are returned, the earliest first."""
    await store.append_logs([log_line("run_1", str(index)) for index in range(5)])

    lines = await store.read_logs("run_1", limit=2)

    assert [line.line for line in lines] == ["0", "1"]


async def test_appending_no_lines_does_nothing(store: Store) -> None:
    """An empty append is accepted and stores nothing."""
    await store.append_logs([])

    assert await store.read_logs("run_1") == []


# --- queue, heartbeats, approvals ---------------------------------------------------


async def test_queued_attempts_are_returned_oldest_first_across_runs(
    store: Store,
) -> None:
    """Queued attempts of all runs come by queued_at then attempt id, up to limit."""
    plan = await save_plan(store)
    await create_run(
        store,
        plan,
        "run_1",
        attempts=(
            make_attempt("att_late", queued_at=T0 + 2 * MINUTE),
            make_attempt("att_b", queued_at=T0 + MINUTE),
            make_attempt("att_busy", status=AttemptStatus.RUNNING),
        ),
    )
    await create_run(
        store,
        plan,
        "run_2",
        attempts=(
            make_attempt("att_a", run_id="run_2", queued_at=T0 + MINUTE),
            make_attempt("att_first", run_id="run_2", queued_at=T0),
            make_attempt("att_done", run_id="run_2", status=AttemptStatus.SUCCEEDED),
        ),
    )

    everything = await store.queued_attempts()
    limited = await store.queued_attempts(limit=2)

    assert ids(everything) == ["att_first", "att_a", "att_b", "att_late"]
    assert ids(limited) == ["att_first", "att_a"]


async def test_stale_attempts_are_running_attempts_of_silent_or_unknown_workers(
    store: Store,
) -> None:
    """Running attempts whose worker is unknown or beat before the cutoff are stale."""
    plan = await save_plan(store)
    running = AttemptStatus.RUNNING
    await store.beat(worker_id="wrk_old", name="old", now=T0)
    await store.beat(worker_id="wrk_fresh", name="fresh", now=T0)
    await store.beat(worker_id="wrk_fresh", name="fresh", now=T0 + 2 * MINUTE)
    await create_run(
        store,
        plan,
        "run_1",
        attempts=(
            make_attempt("att_old", status=running, worker_id="wrk_old"),
            make_attempt("att_gone", status=running, worker_id="wrk_gone"),
            make_attempt("att_nobody", status=running, worker_id=None),
            make_attempt("att_fresh", status=running, worker_id="wrk_fresh"),
        ),
    )

    stale = await store.stale_attempts(heartbeat_before=T0 + MINUTE)

    assert sorted(ids(stale)) == ["att_gone", "att_nobody", "att_old"]


async def test_stale_attempts_leave_out_approvals_and_attempts_not_running(
    store: Store,
) -> None:
    """Waiting approvals, queued and finished attempts are never stale."""
    plan = await save_plan(store)
    await create_run(
        store,
        plan,
        "run_1",
        attempts=(
            make_attempt("att_approval", status=AttemptStatus.RUNNING, approval=True),
            make_attempt("att_queued", worker_id="wrk_gone"),
            make_attempt(
                "att_done",
                status=AttemptStatus.SUCCEEDED,
                worker_id="wrk_gone",
            ),
        ),
    )

    assert await store.stale_attempts(heartbeat_before=T0 + MINUTE) == []


async def test_a_heartbeat_at_the_cutoff_is_not_stale(store: Store) -> None:
    """A worker that beat exactly at the cutoff is alive."""
    plan = await save_plan(store)
    await store.beat(worker_id="wrk_1", name="one", now=T0 + MINUTE)
    await create_run(
        store,
        plan,
        "run_1",
        attempts=(
            make_attempt("att_1", status=AttemptStatus.RUNNING, worker_id="wrk_1"),
        ),
    )

    assert await store.stale_attempts(heartbeat_before=T0 + MINUTE) == []


async def test_expired_approvals_are_waiting_approvals_at_or_past_their_deadline(
    store: Store,
) -> None:
    """Running approval attempts whose deadline has come are expired; others are not."""
    plan = await save_plan(store)
    now = T0 + 10 * MINUTE
    waiting = {"status": AttemptStatus.RUNNING, "approval": True}
    attempts = (
        make_attempt("att_due", **waiting, deadline_at=now),
        make_attempt("att_past", **waiting, deadline_at=now - MINUTE),
        make_attempt("att_later", **waiting, deadline_at=now + MINUTE),
        make_attempt("att_forever", **waiting),
        make_attempt(
            "att_decided",
            approval=True,
            status=AttemptStatus.SUCCEEDED,
            deadline_at=now,
        ),
        make_attempt("att_step", status=AttemptStatus.RUNNING, deadline_at=now),
    )
    await create_run(store, plan, "run_1", attempts=attempts)

    expired = await store.expired_approvals(now=now)

    assert sorted(ids(expired)) == ["att_due", "att_past"]


async def test_close_may_be_called_twice(store: Store) -> None:
    """Closing a closed store does nothing."""
    await store.close()

    await store.close()


async def test_a_plan_can_be_disabled_and_enabled_again(store: Store) -> None:
    """The enabled flag round-trips through summaries and listings."""
    await save_plan(store, "deploy")

    await store.set_plan_enabled(workspace="default", name="deploy", enabled=False)
    disabled = await store.get_plan_summary(workspace="default", name="deploy")
    listed = await store.list_plans(workspace="default")
    await store.set_plan_enabled(workspace="default", name="deploy", enabled=True)
    enabled = await store.get_plan_summary(workspace="default", name="deploy")

    assert (disabled.enabled, listed[0].enabled, enabled.enabled) == (
        False,
        False,
        True,
    )


async def test_enabling_an_unknown_plan_is_not_found(store: Store) -> None:
    """set_plan_enabled and get_plan_summary raise PlanNotFoundError."""
    with pytest.raises(errors.PlanNotFoundError):
        await store.set_plan_enabled(workspace="default", name="nope", enabled=False)
    with pytest.raises(errors.PlanNotFoundError):
        await store.get_plan_summary(workspace="default", name="nope")


# --- numbers: small integer aliases of runs and plans ----------------------------


async def test_runs_are_numbered_one_two_three_in_the_order_they_are_created(
    store: Store,
) -> None:
    """Each new run gets the next number, whatever its id."""
    plan = await save_plan(store)
    for run_id in ("run_b", "run_a", "run_c"):
        await create_run(store, plan, run_id)

    numbers = await store.get_run_numbers(["run_a", "run_b", "run_c"])

    assert numbers == {"run_b": 1, "run_a": 2, "run_c": 3}


async def test_later_commits_of_a_run_keep_its_number_and_use_none_up(
    store: Store,
) -> None:
    """Updating a run leaves its number alone; the next new run gets the next one."""
    plan = await save_plan(store)
    run = await create_run(store, plan, "run_1")
    run = await update_run(store, run, status=RunStatus.RUNNING)
    await update_run(store, run, status=RunStatus.SUCCEEDED)

    await create_run(store, plan, "run_2")

    assert await store.get_run_numbers(["run_1", "run_2"]) == {"run_1": 1, "run_2": 2}


async def test_a_refused_creation_numbers_nothing_and_no_number_is_reused(
    store: Store,
) -> None:
    """A rolled-back creation leaves no number; later runs get numbers never given."""
    plan = await save_plan(store)
    await create_run(store, plan, "run_1")
    record = make_key()
    await store.commit_run(
        RunCommit(run=make_run(plan, "run_2"), expected_version=0, idempotency=record)
    )
    with pytest.raises(errors.StaleStateError):
        await create_run(store, plan, "run_1")
    with pytest.raises(errors.StaleStateError):
        await store.commit_run(
            RunCommit(
                run=make_run(plan, "run_3"), expected_version=0, idempotency=record
            )
        )

    await create_run(store, plan, "run_4")
    numbers = await store.get_run_numbers(["run_1", "run_2", "run_3", "run_4"])

    assert set(numbers) == {"run_1", "run_2", "run_4"}
    assert (numbers["run_1"], numbers["run_2"]) == (1, 2)
    assert numbers["run_4"] > 2


async def test_find_run_id_returns_the_run_of_a_number_and_none_for_other_integers(
    store: Store,
) -> None:
    """A given number names its run; 0, negatives, unused and huge numbers none."""
    plan = await save_plan(store)
    await create_run(store, plan, "run_1")
    await create_run(store, plan, "run_2")

    found = [await store.find_run_id(number) for number in (1, 2)]
    missing = [
        await store.find_run_id(number)
        for number in (0, -1, 3, 2**63 - 1, 2**63, 2**80)
    ]

    assert found == ["run_1", "run_2"]
    assert missing == [None] * 6


async def test_get_run_numbers_takes_many_ids_and_omits_unknown_ones(
    store: Store,
) -> None:
    """A long list with repeats and unknown ids answers the stored runs only."""
    plan = await save_plan(store)
    await create_run(store, plan, "run_1")
    await create_run(store, plan, "run_2")
    unknown = [f"run_unknown_{n}" for n in range(1200)]

    numbers = await store.get_run_numbers([*unknown, "run_2", "run_1", "run_2"])
    none = await store.get_run_numbers([])

    assert numbers == {"run_1": 1, "run_2": 2}
    assert none == {}


async def test_plans_are_numbered_when_first_saved_and_keep_their_number(
    store: Store,
) -> None:
    """A plan's first version numbers it; later versions keep the number."""
    first = await save_plan(store, "deploy")
    second = await save_plan(store, "deploy", digest="digest-2")
    other = await save_plan(store, "rollback")
    elsewhere = await save_plan(store, "deploy", workspace="other")

    numbers = await store.get_plan_numbers(
        [first.plan_id, other.plan_id, elsewhere.plan_id, "pln_unknown"]
    )

    assert second.plan_id == first.plan_id
    assert numbers == {first.plan_id: 1, other.plan_id: 2, elsewhere.plan_id: 3}


async def test_a_deleted_plan_loses_its_number_and_no_plan_gets_it_again(
    store: Store,
) -> None:
    """Deleting the newest plan does not free its number for the next plan."""
    kept = await save_plan(store, "kept")
    deleted = await save_plan(store, "deleted")
    await store.delete_plan(workspace="default", name="deleted")

    again = await save_plan(store, "deleted", digest="digest-2")
    numbers = await store.get_plan_numbers(
        [kept.plan_id, deleted.plan_id, again.plan_id]
    )

    assert numbers == {kept.plan_id: 1, again.plan_id: 3}
