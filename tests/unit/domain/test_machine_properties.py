"""Property tests: the engine's attempts equal those of a small reference model."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onward.domain import events
from onward.domain.events import ContinueOption
from onward.domain.plans import CriticalFailurePolicy
from onward.domain.runs import AttemptStatus, RunStatus
from onward.testing import Place, Simulation, plan, step

Key = tuple[int, int, int]  # stage, target, step


@dataclass(frozen=True)
class StepSpec:
    """One generated step."""

    critical: bool
    attempts: int


@dataclass(frozen=True)
class Scenario:
    """A generated plan, failure pattern and operator choices."""

    before: tuple[StepSpec, ...]
    groups: tuple[tuple[int, tuple[StepSpec, ...]], ...]  # (target count, steps)
    fails: dict[Key, int]  # how many first attempts of a step fail
    choices: tuple[ContinueOption, ...]
    fail_policy: bool

    def stages(self) -> list[tuple[int, tuple[StepSpec, ...], bool]]:
        """Return (target count, steps, plan-level?) per stage, in order."""
        stages = [(1, self.before, True)] if self.before else []
        return stages + [(count, steps, False) for count, steps in self.groups]


def reference(scenario: Scenario) -> tuple[list[Key], str]:
    """Run the scenario by the rules of DESIGN §3, one target at a time."""
    made: Counter[Key] = Counter()
    executed: list[Key] = []
    choices = list(scenario.choices)

    def try_step(key: Key, tries: int) -> bool:
        for _ in range(tries):
            made[key] += 1
            executed.append(key)
            if made[key] > scenario.fails.get(key, 0):
                return True
        return False

    for s, (count, steps, plan_level) in enumerate(scenario.stages()):
        t = 0
        while t < count:
            i = 0
            next_target, restart_group, skip_group = t + 1, False, False
            while i < len(steps):
                if try_step((s, t, i), steps[i].attempts) or not steps[i].critical:
                    i += 1
                    continue
                if not choices:
                    return executed, "failed" if scenario.fail_policy else "halted"
                option = choices.pop(0)
                if scenario.fail_policy or (plan_level and not option.is_step_option):
                    option = ContinueOption.RETRY_STEP
                if option is ContinueOption.RETRY_STEP:
                    continue
                if option is ContinueOption.PROCEED_STEP:
                    i += 1
                elif option is ContinueOption.RETRY_TARGET:
                    i = 0
                elif option is ContinueOption.PROCEED_TARGET:
                    break
                elif option is ContinueOption.RETRY_GROUP:
                    restart_group = True
                    break
                else:
                    skip_group = True
                    break
            if skip_group:
                break
            t = 0 if restart_group else next_target
    return executed, "succeeded"


def engine(scenario: Scenario) -> tuple[list[Key], str]:
    """Run the scenario through decide() and the Simulation."""
    names = {}
    groups = {}
    for g, (count, steps) in enumerate(scenario.groups):
        groups[f"g{g}"] = (
            [f"t{t}" for t in range(count)],
            [
                step(f"s{i}", critical=spec.critical, attempts=spec.attempts)
                for i, spec in enumerate(steps)
            ],
        )
    before = [
        step(f"s{i}", critical=spec.critical, attempts=spec.attempts)
        for i, spec in enumerate(scenario.before)
    ]
    policy = (
        CriticalFailurePolicy.FAIL
        if scenario.fail_policy
        else CriticalFailurePolicy.HALT
    )
    sim = Simulation(plan(groups, before=before, on_critical_failure=policy))
    for s, stage in enumerate(sim.state.stages):
        for t, target in enumerate(stage.targets):
            for i, definition in enumerate(stage.steps):
                names[Place(stage.name, target.name, definition.name)] = (s, t, i)

    def outcome(where: Place, number: int) -> AttemptStatus:
        failing = number <= scenario.fails.get(names[where], 0)
        return AttemptStatus.FAILED if failing else AttemptStatus.SUCCEEDED

    choices = list(scenario.choices)
    sim.send(events.StartRequested())
    run = sim.work(outcome)
    while run.status in (RunStatus.HALTED, RunStatus.FAILED) and choices:
        option = choices.pop(0)
        if run.status is RunStatus.FAILED:
            sim.send(events.RetryRequested())
        else:
            stage = sim.state.stages[run.halt_points[0].lane.stage]
            if stage.is_plan_level and not option.is_step_option:
                option = ContinueOption.RETRY_STEP
            sim.send(events.ContinueRequested(option=option))
        run = sim.work(outcome)
    return [names[p] for p in sim.claimed], run.status.value


step_specs = st.builds(StepSpec, critical=st.booleans(), attempts=st.integers(1, 3))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Draw a plan, which attempts fail, and what the operator chooses."""
    before = tuple(draw(st.lists(step_specs, max_size=2)))
    groups = tuple(
        (
            draw(st.integers(1, 3)),
            tuple(draw(st.lists(step_specs, min_size=1, max_size=3))),
        )
        for _ in range(draw(st.integers(1, 3)))
    )
    stages = ([(1, before)] if before else []) + list(groups)
    keys = [
        (s, t, i)
        for s, (count, steps) in enumerate(stages)
        for t in range(count)
        for i in range(len(steps))
    ]
    fails = draw(st.dictionaries(st.sampled_from(keys), st.integers(0, 4), max_size=4))
    choices = tuple(draw(st.lists(st.sampled_from(list(ContinueOption)), max_size=8)))
    return Scenario(
        before=before,
        groups=groups,
        fails=fails,
        choices=choices,
        fail_policy=draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_the_engine_starts_exactly_the_attempts_of_the_reference_model(
    scenario: Scenario,
) -> None:
    """For random plans, failures and choices, engine and reference agree."""
    expected = reference(scenario)

    actual = engine(scenario)

    assert actual == expected


@st.composite
def parallel_scenarios(draw: st.DrawFn) -> tuple[dict[str, int], Scenario, bool]:
    """Draw a scenario with parallel targets and possibly parallel groups."""
    scenario = draw(scenarios())
    parallel = {f"g{g}": draw(st.integers(1, 3)) for g in range(len(scenario.groups))}
    return parallel, scenario, draw(st.booleans())


@settings(max_examples=200, deadline=None)
@given(parallel_scenarios(), st.randoms(use_true_random=False))
def test_no_succeeded_step_runs_again_unless_an_option_says_so(
    drawn: tuple[dict[str, int], Scenario, bool],
    rng: object,
) -> None:
    """With parallel work in any order, a succeeded step reruns only after a retry."""
    parallel, scenario, parallel_groups = drawn
    groups = {
        f"g{g}": (
            [f"t{t}" for t in range(count)],
            [
                step(f"s{i}", critical=s.critical, attempts=s.attempts)
                for i, s in enumerate(steps)
            ],
        )
        for g, (count, steps) in enumerate(scenario.groups)
    }
    sim = Simulation(plan(groups, parallel=parallel, parallel_groups=parallel_groups))
    fails_left = Counter({f"g{g}": 1 for g in range(len(scenario.groups))})

    def outcome(where: Place, _: int) -> AttemptStatus:
        if fails_left[where.stage]:
            fails_left[where.stage] -= 1
            return AttemptStatus.FAILED
        return AttemptStatus.SUCCEEDED

    succeeded: set[Place] = set()
    sim.send(events.StartRequested())
    choices = list(scenario.choices)
    while True:
        mark = len(sim.finished)
        run = sim.work(outcome, pick=lambda q: q[rng.randrange(len(q))])  # type: ignore[attr-defined]
        for attempt in sim.finished[mark:]:
            where = sim.place(attempt)
            if attempt.status is AttemptStatus.SUCCEEDED:
                assert where not in succeeded
                succeeded.add(where)
        for index, stage in enumerate(sim.state.stages):
            assert sim.state.run.stages[index].active <= stage.parallel
        if run.status is not RunStatus.HALTED or not choices:
            break
        option = choices.pop(0)
        sim.send(events.ContinueRequested(option=option))
        if option in (ContinueOption.RETRY_TARGET, ContinueOption.RETRY_GROUP):
            succeeded.clear()

    assert run.status in (RunStatus.SUCCEEDED, RunStatus.HALTED)
