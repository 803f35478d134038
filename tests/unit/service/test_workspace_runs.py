"""WorkspaceRuns: run reads scoped to a workspace, and previews of commands."""

from __future__ import annotations

import pytest

from onward import errors
from onward.clock import FrozenClock
from onward.config import Settings
from onward.domain import events
from onward.runtime import Runtime
from onward.service.places import StepRef
from onward.service.ports import RunFilter
from onward.service.workspace_runs import PreviewCommand, WorkspaceRuns
from onward.storage.memory import MemoryStore

GATED = (
    "name: gated\ngroups: [{name: g, targets: [a], steps: "
    "[{name: s, action: approval, with: {message: go}}, {name: t, action: noop}]}]"
)


@pytest.fixture
async def runtime() -> Runtime:
    """Return a runtime with a plan and a second workspace."""
    runtime = Runtime.open(
        Settings(), executes=False, clock=FrozenClock(), store=MemoryStore()
    )
    await runtime.commands.apply_plan(GATED)
    await runtime.auth.ensure_workspace("other")
    return runtime


@pytest.fixture
def runs(runtime: Runtime) -> WorkspaceRuns:
    """Return the service under test."""
    return WorkspaceRuns(queries=runtime.queries)


async def test_a_run_is_read_only_through_its_own_workspace(
    runtime: Runtime, runs: WorkspaceRuns
) -> None:
    """Detail, logs, audit and previews of another workspace's run are not found."""
    run = await runtime.commands.start_run("gated")

    detail = await runs.detail("default", run.run_id)
    audit = await runs.audit("default", run.run_id)
    page = await runs.list_runs(RunFilter(workspace="other"))
    for read in (
        runs.detail("other", run.run_id),
        runs.logs("other", run.run_id),
        runs.audit("other", run.run_id),
        runs.preview("other", run.run_id, PreviewCommand.RETRY),
    ):
        with pytest.raises(errors.RunNotFoundError):
            await read

    assert detail.run.run_id == run.run_id
    assert [a.command for a in audit] == ["start"]
    assert await runs.logs("default", run.run_id) == []
    assert page.runs == ()


async def test_a_continue_preview_needs_an_option_and_resolves_points(
    runtime: Runtime, runs: WorkspaceRuns
) -> None:
    """Without an option the preview is invalid; with one it resolves names."""
    run = await runtime.commands.start_run("gated")
    await runtime.commands.decide_approval(run.run_id, approved=False)

    with pytest.raises(errors.InvalidDefinitionError) as caught:
        await runs.preview("default", run.run_id, PreviewCommand.CONTINUE)
    preview = await runs.preview(
        "default",
        run.run_id,
        PreviewCommand.CONTINUE,
        option=events.ContinueOption.PROCEED_STEP,
        points=[StepRef(group="g", target="a", step="s")],
    )

    assert [p.path for p in caught.value.problems] == ["option"]
    assert [(p.target_name, p.step_name) for p in preview.starts] == [("a", "t")]
    assert preview.token.startswith(run.run_id)
