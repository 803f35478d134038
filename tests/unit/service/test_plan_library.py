"""PlanLibrary: plans applied, read, validated with lines and deleted, per workspace."""

from __future__ import annotations

import pytest

from onward import errors
from onward.clock import FrozenClock
from onward.config import Settings
from onward.errors import PlanInvalidError
from onward.runtime import Runtime
from onward.service.commands import Caller
from onward.service.plan_library import PlanLibrary
from onward.storage.memory import MemoryStore

PLAN = (
    "name: web\ngroups:\n"
    "  - {name: g, targets: [a], steps: [{name: s, action: noop}]}\n"
)
BAD = (
    "name: web\ngroups:\n  - name: g\n    targets: [a]\n"
    "    steps: [{name: s, action: nope}]\n"
)
ANN = Caller(actor="ann")


@pytest.fixture
def runtime() -> Runtime:
    """Return a runtime over an empty MemoryStore."""
    return Runtime.open(
        Settings(), executes=False, clock=FrozenClock(), store=MemoryStore()
    )


@pytest.fixture
def plans(runtime: Runtime) -> PlanLibrary:
    """Return the service under test."""
    return PlanLibrary(commands=runtime.commands)


async def test_applying_makes_a_version_only_when_the_plan_changed(
    plans: PlanLibrary,
) -> None:
    """A first apply creates version 1; the same plan again changes nothing."""
    first = await plans.apply(ANN, PLAN)
    again = await plans.apply(ANN, PLAN.replace("name: web", "name: 'web'"))
    changed = await plans.apply(ANN, PLAN.replace("[a]", "[a, b]"), format="yaml")

    assert (first.created, first.version.version) == (True, 1)
    assert (again.created, again.version.version) == (False, 1)
    assert (changed.created, changed.version.version) == (True, 2)
    assert first.version.created_by == "ann"
    assert [v.version for v in await plans.versions("default", "web")] == [1, 2]
    assert (await plans.get("default", "web", 1)).source == PLAN
    assert [p.latest_version for p in await plans.list_plans("default")] == [2]


async def test_problems_carry_their_path_and_line(plans: PlanLibrary) -> None:
    """Validation and a refused apply locate each problem in the text."""
    problems = plans.validate(BAD)
    with pytest.raises(PlanInvalidError) as caught:
        await plans.apply(ANN, BAD)

    assert [(p.path, p.line) for p in problems] == [("groups[0].steps[0].action", 5)]
    assert caught.value.located == tuple(problems)
    assert plans.validate(PLAN) == []


async def test_a_plan_addressed_by_another_name_is_refused(plans: PlanLibrary) -> None:
    """Applying by name requires the text to carry that name."""
    with pytest.raises(PlanInvalidError) as caught:
        await plans.apply(ANN, PLAN, name="api")

    assert [(p.path, p.line) for p in caught.value.located] == [("name", 1)]
    with pytest.raises(errors.PlanNotFoundError):
        await plans.get("default", "web")


async def test_an_unknown_format_is_a_problem_of_the_format_field(
    plans: PlanLibrary,
) -> None:
    """Only yaml and json are formats."""
    with pytest.raises(PlanInvalidError) as caught:
        await plans.apply(ANN, PLAN, format="toml")

    assert [p.path for p in caught.value.located] == ["format"]


async def test_a_plan_is_deleted_unless_runs_use_it(
    runtime: Runtime, plans: PlanLibrary
) -> None:
    """A used plan is kept (PlanInUseError); an unused one goes."""
    await plans.apply(ANN, PLAN)
    await plans.apply(ANN, PLAN.replace("web", "api"))
    await runtime.commands.start_run("web")

    with pytest.raises(errors.PlanInUseError):
        await plans.delete("default", "web")
    await plans.delete("default", "api")

    assert [p.name for p in await plans.list_plans("default")] == ["web"]
