"""
Tests for plan validation: durations, the plan document's rules and iter_steps.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onward.domain.plan_schema import (
    format_duration,
    iter_steps,
    parse_duration,
    parse_plan,
)
from onward.domain.plans import (
    CriticalFailurePolicy,
    Group,
    InterruptPolicy,
    PlanKind,
    Procedure,
    RetryPolicy,
    Step,
    Target,
)
from onward.errors import InvalidDefinitionError, Problem

DURATION_HELP = (
    "use a number of seconds or parts like '500ms', '10s', '5m', '2h', '1d', '1h30m'"
)
NAME_HELP = (
    "use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"
)


def step(**fields: Any) -> dict[str, Any]:
    """Return a valid step document with ``fields`` changed."""
    return {"name": "s", "action": "noop", **fields}


def group(**fields: Any) -> dict[str, Any]:
    """Return a valid group document with ``fields`` changed."""
    return {"name": "g", "targets": ["t1"], "steps": [step()], **fields}


def plan(**fields: Any) -> dict[str, Any]:
    """Return a valid plan document with ``fields`` changed."""
    return {"name": "p", "groups": [group()], **fields}


def plan_with_step(**fields: Any) -> dict[str, Any]:
    """Return a plan whose only step has ``fields`` changed."""
    return plan(groups=[group(steps=[step(**fields)])])


def problems_of(document: Any) -> list[Problem]:
    """Return the problems parse_plan raises for ``document``."""
    with pytest.raises(InvalidDefinitionError) as info:
        parse_plan(document)
    assert info.value.subject == "plan"
    return list(info.value.problems)


# -- durations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (90, timedelta(seconds=90)),
        (1.5, timedelta(seconds=1.5)),
        (0, timedelta(0)),
        ("90", timedelta(seconds=90)),
        ("2.5", timedelta(seconds=2.5)),
        ("500ms", timedelta(milliseconds=500)),
        ("10s", timedelta(seconds=10)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (
            "1d2h3m4s5ms",
            timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=5),
        ),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        (" 1.5h ", timedelta(hours=1, minutes=30)),
        ("0.1s", timedelta(milliseconds=100)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration_accepts_numbers_and_unit_strings(
    value: object, expected: timedelta
) -> None:
    """Numbers are seconds and strings are parts with units d, h, m, s and ms."""
    actual = parse_duration(value)

    assert actual == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-1, "must not be negative"),
        ("-5s", "must not be negative"),
        ("5 minutes", "invalid duration '5 minutes'"),
        ("5x", "invalid duration '5x'"),
        ("", "invalid duration ''"),
        ("30m1h", "units must go from largest to smallest"),
        ("5m5m", "units must go from largest to smallest"),
        (math.nan, "finite number"),
        (math.inf, "finite number"),
        (True, "got boolean"),
        ([5], "got list"),
        (None, "got null"),
        ("99999999999d", "too large"),
    ],
)
def test_parse_duration_rejects_negatives_and_garbage_with_a_reason(
    value: object, reason: str
) -> None:
    """Invalid durations raise ValueError whose message says what is wrong."""
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_duration(value)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(seconds=1, milliseconds=500), "1s500ms"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=2, seconds=5), "2d5s"),
        (timedelta(microseconds=1), "0.000001s"),
        (timedelta(seconds=3, microseconds=250), "3.00025s"),
    ],
)
def test_format_duration_writes_the_shortest_plan_spelling(
    delta: timedelta, expected: str
) -> None:
    """Durations are written with the units a plan author would use."""
    actual = format_duration(delta)

    assert actual == expected


@given(st.timedeltas(min_value=timedelta(0)))
def test_formatted_durations_parse_back_to_the_same_duration(delta: timedelta) -> None:
    """parse_duration(format_duration(d)) is d for every non-negative duration."""
    actual = parse_duration(format_duration(delta))

    assert actual == delta


@given(st.integers(min_value=0, max_value=10**9))
def test_whole_seconds_parse_the_same_as_numbers_and_text(seconds: int) -> None:
    """A number of seconds gives the same duration written as a number or as text."""
    as_number = parse_duration(seconds)
    as_text = parse_duration(f"{seconds}s")

    assert as_number == as_text == timedelta(seconds=seconds)


# -- a valid plan ------------------------------------------------------------------

DESIGN_EXAMPLE: dict[str, Any] = {
    "name": "web-tier-dr",
    "kind": "replica",
    "description": "Fail the web tier over to the recovery site.",
    "parallel_groups": False,
    "on_critical_failure": "fail",
    "chain": ["app-tier-dr"],
    "queue": "site-b",
    "params": {"restore_point": {"type": "datetime", "required": False}},
    "before": [
        {
            "name": "notify",
            "action": "http",
            "with": {"method": "POST", "url": "https://chat.example/hook"},
        }
    ],
    "groups": [
        {
            "name": "databases",
            "parallel": 2,
            "queue": "db-site",
            "targets": [
                {"name": "db1", "vars": {"ip": "10.0.0.5"}},
                {"name": "db2", "vars": {"ip": "10.0.0.6"}, "queue": "db2-queue"},
            ],
            "steps": [
                {
                    "name": "stop replication",
                    "action": "shell",
                    "with": {"command": "ssh {{ target.vars.ip }} systemctl stop repl"},
                    "critical": True,
                    "timeout": "5m",
                    "retry": {
                        "attempts": 3,
                        "backoff": "10s",
                        "factor": 2,
                        "max_backoff": "2m",
                    },
                    "on_interrupt": "halt",
                },
                {
                    "name": "verify heartbeat",
                    "action": "http",
                    "with": {"url": "http://{{ target.vars.ip }}:8080/health"},
                    "critical": False,
                    "on_interrupt": "retry",
                    "queue": "probes",
                },
            ],
        }
    ],
    "after": [{"name": "done", "action": "noop"}],
    "procedures": {
        "failover": {"groups": [group(name="web")]},
        "failback": {"before": [step(name="back")]},
    },
}


def test_the_design_example_parses_into_its_records() -> None:
    """The plan of DESIGN section 2 becomes the records it describes."""
    actual = parse_plan(DESIGN_EXAMPLE)

    databases = Group(
        name="databases",
        parallel=2,
        queue="db-site",
        targets=(
            Target(name="db1", vars={"ip": "10.0.0.5"}),
            Target(name="db2", vars={"ip": "10.0.0.6"}, queue="db2-queue"),
        ),
        steps=(
            Step(
                name="stop replication",
                action="shell",
                inputs={"command": "ssh {{ target.vars.ip }} systemctl stop repl"},
                critical=True,
                timeout=timedelta(minutes=5),
                retry=RetryPolicy(
                    maximum_attempts=3,
                    initial_interval=timedelta(seconds=10),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=2),
                ),
                on_interrupt=InterruptPolicy.HALT,
            ),
            Step(
                name="verify heartbeat",
                action="http",
                inputs={"url": "http://{{ target.vars.ip }}:8080/health"},
                critical=False,
                on_interrupt=InterruptPolicy.RETRY,
                queue="probes",
            ),
        ),
    )
    notify = Step(
        name="notify",
        action="http",
        inputs={"method": "POST", "url": "https://chat.example/hook"},
    )
    assert actual.name == "web-tier-dr"
    assert actual.kind is PlanKind.REPLICA
    assert actual.description == "Fail the web tier over to the recovery site."
    assert actual.on_critical_failure is CriticalFailurePolicy.FAIL
    assert actual.chain == ("app-tier-dr",)
    assert actual.queue == "site-b"
    assert list(actual.procedures) == ["run", "failover", "failback"]
    assert actual.procedures["run"] == Procedure(
        name="run",
        before=(notify,),
        groups=(databases,),
        after=(Step(name="done", action="noop"),),
    )
    assert actual.procedures["failback"] == Procedure(
        name="failback", before=(Step(name="back", action="noop"),)
    )


def test_a_minimal_plan_takes_every_default() -> None:
    """A plan with only a name and one group gets the documented defaults."""
    actual = parse_plan(plan())

    assert actual.kind is PlanKind.GENERIC
    assert actual.description == ""
    assert actual.parallel_groups is False
    assert actual.on_critical_failure is CriticalFailurePolicy.HALT
    assert actual.chain == ()
    assert actual.params == {}
    assert actual.queue is None
    assert actual.procedures == {
        "run": Procedure(
            name="run",
            groups=(
                Group(
                    name="g",
                    targets=(Target(name="t1"),),
                    steps=(Step(name="s", action="noop"),),
                    parallel=1,
                ),
            ),
        )
    }


def test_a_step_takes_its_defaults() -> None:
    """A step with only a name and an action is critical, untimed and not retried."""
    actual = parse_plan(plan()).procedures["run"].groups[0].steps[0]

    assert actual.inputs == {}
    assert actual.critical is True
    assert actual.timeout is None
    assert actual.retry == RetryPolicy()
    assert actual.on_interrupt is InterruptPolicy.HALT
    assert actual.queue is None


def test_keys_set_to_null_count_as_absent() -> None:
    """An optional key written with no value takes its default."""
    actual = parse_plan(plan(description=None, chain=None, params=None))

    assert (actual.description, actual.chain, actual.params) == ("", (), {})


def test_a_plan_with_only_before_steps_is_valid() -> None:
    """Plan-level before steps alone make a run procedure."""
    actual = parse_plan({"name": "p", "before": [step()]})

    assert actual.procedures["run"].before == (Step(name="s", action="noop"),)


def test_a_recovery_plan_may_have_only_recovery_procedures() -> None:
    """A replica plan without top-level steps has no run procedure."""
    document = {
        "name": "p",
        "kind": "storage",
        "procedures": {"protect": {"groups": [group()]}},
    }

    actual = parse_plan(document)

    assert list(actual.procedures) == ["protect"]


def test_step_inputs_are_copies_of_the_document() -> None:
    """Changing the document after parsing does not change the plan."""
    document = plan_with_step(**{"with": {"headers": {"a": "1"}}})
    parsed = parse_plan(document)

    document["groups"][0]["steps"][0]["with"]["headers"]["a"] = "2"

    assert parsed.procedures["run"].groups[0].steps[0].inputs == {"headers": {"a": "1"}}


# -- every problem at once ---------------------------------------------------------


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    """A document with many mistakes reports all of them, each at its path."""
    document = {
        "name": "bad name!",
        "kind": "replicas",
        "params": {"restore_point": {"type": "date"}},
        "groups": [
            group(parallel=0),
            group(
                name="other",
                targets=["a", {"name": "b"}, {"name": "a"}],
                steps=[step(timeout="5 minutes", timout="5m"), step(name="s2")],
            ),
        ],
        "procedures": {"failover": {"groups": [group(targets=["x", "y", 7])]}},
    }

    actual = problems_of(document)

    assert [problem.path for problem in actual] == [
        "name",
        "kind",
        "params.restore_point.type",
        "groups[0].parallel",
        "groups[1].targets[2].name",
        "groups[1].steps[0].timout",
        "groups[1].steps[0].timeout",
        "procedures.failover.groups[0].targets[2]",
    ]
    assert actual[5].message == "unknown key 'timout' (did you mean 'timeout'?)"


def test_the_error_message_lists_every_problem() -> None:
    """The exception's text counts the problems and shows each with its path."""
    with pytest.raises(InvalidDefinitionError) as info:
        parse_plan({"name": "p", "kind": 5, "groups": [group(parallel="2")]})

    assert str(info.value) == (
        "Invalid plan (2 problems):\n"
        "  - kind: expected one of 'generic', 'replica', 'storage' or 'playbook', "
        "got integer\n"
        "  - groups[0].parallel: expected an integer, got string"
    )


# -- top level ---------------------------------------------------------------------


@pytest.mark.parametrize("document", [[], "plan", None, 3])
def test_a_document_that_is_not_a_mapping_is_a_problem(document: Any) -> None:
    """Only a mapping can be a plan."""
    actual = problems_of(document)

    assert len(actual) == 1
    assert actual[0].path == ""
    assert actual[0].message.startswith("expected a mapping at the top of the plan")


def test_the_plan_name_is_required() -> None:
    """A plan without a name is reported at ``name``."""
    document = plan()
    del document["name"]

    actual = problems_of(document)

    assert actual == [Problem("name", "missing required key 'name'")]


@pytest.mark.parametrize(
    "name", ["-starts-with-dash", "has space", "", "x" * 129, "ünïcode"]
)
def test_plan_names_must_match_the_name_pattern(name: str) -> None:
    """Plan names are 1-128 letters, digits, dots, underscores or dashes."""
    actual = problems_of(plan(name=name))

    assert [problem.path for problem in actual] == ["name"]
    assert actual[0].message.startswith(f"invalid name {name!r}")


@pytest.mark.parametrize("name", ["a", "web-tier_dr.v2", "9lives", "x" * 128])
def test_plan_names_matching_the_pattern_are_valid(name: str) -> None:
    """Names made of the allowed characters are accepted."""
    actual = parse_plan(plan(name=name)).name

    assert actual == name


def test_the_plan_name_must_be_a_string() -> None:
    """A numeric plan name reports the type it has."""
    actual = problems_of(plan(name=42))

    assert actual == [Problem("name", "expected a string, got integer")]


def test_an_unknown_kind_is_reported_with_a_suggestion() -> None:
    """A misspelt kind names the allowed values and the closest one."""
    actual = problems_of(plan(kind="replca"))

    assert actual == [
        Problem(
            "kind",
            "must be one of 'generic', 'replica', 'storage' or 'playbook', "
            "got 'replca' (did you mean 'replica'?)",
        )
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("description", ["a"], "expected a string, got list"),
        ("parallel_groups", "yes", "expected a boolean (true or false), got string"),
        (
            "on_critical_failure",
            "stop",
            "must be one of 'halt' or 'fail', got 'stop'",
        ),
        ("chain", "other", "expected a list, got string"),
        ("params", ["x"], "expected a mapping, got list"),
        ("groups", {"name": "g"}, "expected a list, got mapping"),
        ("procedures", [], "expected a mapping, got list"),
    ],
)
def test_top_level_keys_report_wrong_types(key: str, value: Any, message: str) -> None:
    """Each top-level key reports what it expected and what it got."""
    document = plan(**{key: value})
    if key == "groups":
        document["before"] = [step()]

    actual = problems_of(document)

    assert actual == [Problem(key, message)]


def test_top_level_options_are_read() -> None:
    """parallel_groups, on_critical_failure and queue reach the plan."""
    actual = parse_plan(
        plan(parallel_groups=True, on_critical_failure="fail", queue="dc2.workers")
    )

    assert (actual.parallel_groups, actual.on_critical_failure, actual.queue) == (
        True,
        CriticalFailurePolicy.FAIL,
        "dc2.workers",
    )


def test_an_unknown_top_level_key_is_reported_with_a_suggestion() -> None:
    """A misspelt key at the top level suggests the right one."""
    actual = problems_of(plan(paralel_groups=True))

    assert actual == [
        Problem(
            "paralel_groups",
            "unknown key 'paralel_groups' (did you mean 'parallel_groups'?)",
        )
    ]


def test_an_unknown_key_far_from_any_known_one_has_no_suggestion() -> None:
    """A key that resembles nothing is reported without a guess."""
    actual = problems_of(plan(zzz=1))

    assert actual == [Problem("zzz", "unknown key 'zzz'")]


def test_a_key_that_is_not_a_string_is_reported() -> None:
    """YAML can produce non-string keys (``on:`` is true); they are reported."""
    actual = problems_of({**plan(), True: "x"})

    assert actual == [Problem("True", "expected a string key, got boolean")]


# -- chain -------------------------------------------------------------------------


def test_a_plan_cannot_chain_itself() -> None:
    """Naming the plan itself in its chain is a problem."""
    actual = problems_of(plan(chain=["next", "p"]))

    assert actual == [Problem("chain[1]", "a plan cannot chain itself")]


def test_chained_plans_are_kept_in_order() -> None:
    """The chain keeps the order in which plans will start."""
    actual = parse_plan(plan(chain=["b", "a", "c"])).chain

    assert actual == ("b", "a", "c")


def test_chain_entries_must_be_unique_valid_plan_names() -> None:
    """Chain entries are plan names, each listed once."""
    actual = problems_of(plan(chain=["a", 3, "a", "bad name"]))

    assert [problem.path for problem in actual] == ["chain[1]", "chain[3]", "chain[2]"]
    assert actual[0].message == "expected a plan name, got integer"
    assert actual[2].message == "duplicate chained plan 'a' (first at chain[0])"


# -- procedures ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [None, "generic", "playbook"])
@pytest.mark.parametrize(
    "procedure", ["failover", "failback", "undo_failover", "protect"]
)
def test_recovery_procedures_are_refused_outside_replica_and_storage_plans(
    kind: str | None, procedure: str
) -> None:
    """Only replica and storage plans may have recovery procedures."""
    document = plan(procedures={procedure: {"groups": [group()]}})
    if kind is not None:
        document["kind"] = kind

    actual = problems_of(document)

    assert actual == [
        Problem(
            f"procedures.{procedure}",
            f"procedure {procedure!r} is only allowed in plans of kind 'replica' or "
            f"'storage' (this plan's kind is {kind or 'generic'!r})",
        )
    ]


@pytest.mark.parametrize("kind", ["replica", "storage"])
def test_replica_and_storage_plans_accept_every_recovery_procedure(kind: str) -> None:
    """All four recovery procedures are allowed in replica and storage plans."""
    names = ["failover", "failback", "undo_failover", "protect"]
    document = plan(kind=kind, procedures={name: {"after": [step()]} for name in names})

    actual = list(parse_plan(document).procedures)

    assert actual == ["run", *names]


def test_an_invalid_kind_does_not_also_refuse_recovery_procedures() -> None:
    """When the kind itself is wrong, only the kind is reported."""
    document = plan(kind="nope", procedures={"failover": {"groups": [group()]}})

    actual = [problem.path for problem in problems_of(document)]

    assert actual == ["kind"]


def test_an_unknown_procedure_name_is_reported_with_a_suggestion() -> None:
    """Procedure names are a closed set; a typo suggests the closest."""
    document = plan(kind="replica", procedures={"failovr": {"groups": [group()]}})

    actual = problems_of(document)

    assert actual == [
        Problem(
            "procedures.failovr",
            "unknown procedure 'failovr' (did you mean 'failover'?); known: "
            "'failover', 'failback', 'undo_failover' or 'protect'",
        )
    ]


def test_a_procedure_name_that_is_not_a_string_is_reported() -> None:
    """Procedure names are strings."""
    document = plan(kind="replica", procedures={1: {"groups": [group()]}})

    actual = problems_of(document)

    assert actual == [Problem("procedures.1", "expected a procedure name, got integer")]


def test_the_run_procedure_is_not_allowed_under_procedures() -> None:
    """The run procedure is always written at the top level."""
    actual = problems_of(plan(procedures={"run": {"groups": [group()]}}))

    assert [problem.path for problem in actual] == ["procedures.run"]
    assert "written at the top level" in actual[0].message


def test_a_procedure_without_steps_is_reported() -> None:
    """A recovery procedure needs at least one step."""
    document = plan(kind="replica", procedures={"failover": {"before": []}})

    actual = problems_of(document)

    assert actual == [
        Problem("procedures.failover", "a procedure needs at least one step")
    ]


def test_a_procedure_must_be_a_mapping() -> None:
    """A procedure written as a list is reported with its expected shape."""
    document = plan(kind="replica", procedures={"failover": [step()]})

    actual = problems_of(document)

    assert actual == [
        Problem(
            "procedures.failover",
            "expected a mapping with 'before', 'groups', 'after', got list",
        )
    ]


def test_unknown_keys_in_a_procedure_are_reported() -> None:
    """A procedure holds only before, groups and after."""
    document = plan(kind="replica", procedures={"failover": {"group": [group()]}})

    actual = problems_of(document)

    assert actual[0] == Problem(
        "procedures.failover.group", "unknown key 'group' (did you mean 'groups'?)"
    )


def test_a_plan_without_any_step_is_reported() -> None:
    """A plan must have at least one procedure with at least one step."""
    actual = problems_of({"name": "p", "groups": [], "before": []})

    assert actual == [
        Problem(
            "",
            "the plan has no steps: give it 'before', 'groups' or 'after' steps "
            "(the run procedure) or 'procedures'",
        )
    ]


def test_a_plan_without_steps_is_reported_beside_other_problems() -> None:
    """The missing steps are reported even when other keys are wrong too."""
    actual = problems_of({"name": 5})

    assert [problem.path for problem in actual] == ["name", ""]


# -- groups ------------------------------------------------------------------------


def test_a_group_needs_a_name_targets_and_steps() -> None:
    """A group without its required keys reports each of them."""
    actual = problems_of(plan(groups=[{"parallel": 2}]))

    assert actual == [
        Problem("groups[0].name", "missing required key 'name'"),
        Problem("groups[0].targets", "missing required key 'targets'"),
        Problem("groups[0].steps", "missing required key 'steps'"),
    ]


def test_group_targets_and_steps_must_not_be_empty() -> None:
    """Empty target and step lists are problems."""
    actual = problems_of(plan(groups=[group(targets=[], steps=[])]))

    assert actual == [
        Problem("groups[0].targets", "must not be empty"),
        Problem("groups[0].steps", "must not be empty"),
    ]


def test_group_names_are_unique_within_a_procedure() -> None:
    """Two groups of one procedure cannot share a name."""
    actual = problems_of(plan(groups=[group(), group(name="h"), group()]))

    assert actual == [
        Problem("groups[2].name", "duplicate group name 'g' (first at groups[0].name)")
    ]


def test_groups_of_different_procedures_may_share_a_name() -> None:
    """Uniqueness of group names is per procedure."""
    document = plan(kind="replica", procedures={"failover": {"groups": [group()]}})

    actual = [p.groups[0].name for p in parse_plan(document).procedures.values()]

    assert actual == ["g", "g"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "must be at least 1, got 0"),
        (-3, "must be at least 1, got -3"),
        (True, "expected an integer, got boolean"),
        (1.5, "expected an integer, got number"),
    ],
)
def test_group_parallel_is_a_positive_integer(value: Any, message: str) -> None:
    """parallel counts targets processed at once: an integer of at least 1."""
    actual = problems_of(plan(groups=[group(parallel=value)]))

    assert actual == [Problem("groups[0].parallel", message)]


def test_a_group_must_be_a_mapping() -> None:
    """A group written as a string is reported."""
    actual = problems_of(plan(groups=["web"], before=[step()]))

    assert actual == [Problem("groups[0]", "expected a group (a mapping), got string")]


@pytest.mark.parametrize(
    ("name", "message"),
    [("  ", "must not be blank"), ("x" * 201, "must be at most 200 characters long")],
)
def test_group_names_must_not_be_blank_or_too_long(name: str, message: str) -> None:
    """Group names are shown everywhere, so they must be readable."""
    actual = problems_of(plan(groups=[group(name=name)]))

    assert actual == [Problem("groups[0].name", message)]


def test_an_invalid_queue_name_is_reported() -> None:
    """Queue names follow the same pattern as plan names."""
    actual = problems_of(plan(groups=[group(queue="site b")]))

    assert [problem.path for problem in actual] == ["groups[0].queue"]


# -- targets -------------------------------------------------------------------------


def test_targets_may_be_names_or_mappings() -> None:
    """A target is a bare name or a mapping with name, vars and queue."""
    targets = [
        "web1",
        {"name": "web2", "vars": {"ip": "10.0.0.2", "port": 80}, "queue": "q"},
    ]

    actual = parse_plan(plan(groups=[group(targets=targets)])).procedures["run"]

    assert actual.groups[0].targets == (
        Target(name="web1"),
        Target(name="web2", vars={"ip": "10.0.0.2", "port": 80}, queue="q"),
    )


def test_target_names_are_unique_within_a_group() -> None:
    """Two targets of a group cannot share a name, whatever their form."""
    actual = problems_of(plan(groups=[group(targets=["a", {"name": "a"}])]))

    assert actual == [
        Problem(
            "groups[0].targets[1].name",
            "duplicate target name 'a' (first at groups[0].targets[0].name)",
        )
    ]


@pytest.mark.parametrize(
    ("target", "path", "message"),
    [
        (
            7,
            "groups[0].targets[0]",
            "expected a target name (a string) or a mapping, got integer",
        ),
        ({"vars": {}}, "groups[0].targets[0].name", "missing required key 'name'"),
        (
            {"name": "a", "vars": ["x"]},
            "groups[0].targets[0].vars",
            "expected a mapping, got list",
        ),
        (
            {"name": "a", "var": {}},
            "groups[0].targets[0].var",
            "unknown key 'var' (did you mean 'vars'?)",
        ),
        ("", "groups[0].targets[0].name", "must not be blank"),
    ],
)
def test_invalid_targets_are_reported(target: Any, path: str, message: str) -> None:
    """Each malformed target is reported at its path."""
    actual = problems_of(plan(groups=[group(targets=[target])]))

    assert actual == [Problem(path, message)]


# -- steps ---------------------------------------------------------------------------


def test_a_step_needs_a_name_and_an_action() -> None:
    """Steps without name or action report both."""
    actual = problems_of(plan(groups=[group(steps=[{"critical": False}])]))

    assert actual == [
        Problem("groups[0].steps[0].name", "missing required key 'name'"),
        Problem("groups[0].steps[0].action", "missing required key 'action'"),
    ]


def test_step_names_are_unique_within_their_list() -> None:
    """Two steps of one list cannot share a name."""
    actual = problems_of(plan(before=[step(), step(name="t"), step()]))

    assert actual == [
        Problem("before[2].name", "duplicate step name 's' (first at before[0].name)")
    ]


def test_before_group_and_after_steps_may_share_names() -> None:
    """Uniqueness of step names is per list."""
    actual = parse_plan(plan(before=[step()], after=[step()])).procedures["run"]

    assert (actual.before[0].name, actual.after[0].name) == ("s", "s")


def test_a_step_must_be_a_mapping() -> None:
    """A step written as a string is reported."""
    actual = problems_of(plan(after=["cleanup"]))

    assert actual == [Problem("after[0]", "expected a step (a mapping), got string")]


def test_step_options_are_read() -> None:
    """Every step key reaches the Step record."""
    document = plan_with_step(
        action="shell",
        critical=False,
        timeout=30,
        on_interrupt="retry",
        queue="site-a",
        **{"with": {"command": "true", "env": {"A": "1"}}},
    )

    actual = parse_plan(document).procedures["run"].groups[0].steps[0]

    assert actual == Step(
        name="s",
        action="shell",
        inputs={"command": "true", "env": {"A": "1"}},
        critical=False,
        timeout=timedelta(seconds=30),
        on_interrupt=InterruptPolicy.RETRY,
        queue="site-a",
    )


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"action": ""}, "action", "must not be blank"),
        ({"action": 3}, "action", "expected a string, got integer"),
        ({"with": "echo"}, "with", "expected a mapping, got string"),
        (
            {"critical": "no"},
            "critical",
            "expected a boolean (true or false), got string",
        ),
        (
            {"critical": 0},
            "critical",
            "expected a boolean (true or false), got integer",
        ),
        (
            {"timeout": "5 min"},
            "timeout",
            f"invalid duration '5 min': {DURATION_HELP}",
        ),
        ({"timeout": "0s"}, "timeout", "must be longer than zero"),
        ({"timeout": -1}, "timeout", "duration must not be negative, got -1"),
        (
            {"on_interrupt": "resume"},
            "on_interrupt",
            "must be one of 'halt' or 'retry', got 'resume'",
        ),
        (
            {"queue": "a b"},
            "queue",
            f"invalid name 'a b': {NAME_HELP}",
        ),
        ({"retry": 3}, "retry", "expected a mapping, got integer"),
        ({"timout": "5m"}, "timout", "unknown key 'timout' (did you mean 'timeout'?)"),
        ({"inputs": {}}, "inputs", "unknown key 'inputs'"),
    ],
)
def test_invalid_step_fields_are_reported(
    fields: dict[str, Any], path: str, message: str
) -> None:
    """Each malformed step field is reported at its path with what was expected."""
    actual = problems_of(plan_with_step(**fields))

    assert actual == [Problem(f"groups[0].steps[0].{path}", message)]


@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        (b"raw", "with.data", "expected a JSON value, got bytes"),
        (math.nan, "with.data", "expected a finite number, got nan"),
        ({1: "x"}, "with.data.1", "expected a string key, got integer"),
        ({"a", "b"}, "with.data", "expected a JSON value, got set"),
    ],
)
def test_step_inputs_must_be_json_values(value: Any, path: str, message: str) -> None:
    """Inputs are stored as JSON, so only JSON values are accepted."""
    actual = problems_of(plan_with_step(**{"with": {"data": value}}))

    assert actual == [Problem(f"groups[0].steps[0].{path}", message)]


def test_deeply_nested_inputs_are_refused() -> None:
    """Inputs nested deeper than 32 levels are refused."""
    value: Any = "leaf"
    for _ in range(40):
        value = [value]

    actual = problems_of(plan_with_step(**{"with": {"data": value}}))

    assert actual[0].message == "nested deeper than 32 levels"


# -- retry ---------------------------------------------------------------------------


def test_retry_maps_onto_the_retry_policy() -> None:
    """attempts, backoff, factor and max_backoff fill the RetryPolicy."""
    retry = {"attempts": 5, "backoff": "2s", "factor": 1.5, "max_backoff": "1m"}

    actual = parse_plan(plan_with_step(retry=retry)).procedures["run"]

    assert actual.groups[0].steps[0].retry == RetryPolicy(
        maximum_attempts=5,
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=1.5,
        maximum_interval=timedelta(minutes=1),
    )


def test_retry_defaults_to_no_backoff_and_a_factor_of_two() -> None:
    """Only attempts is required; retries follow at once, doubling from zero."""
    actual = parse_plan(plan_with_step(retry={"attempts": 2})).procedures["run"]

    assert actual.groups[0].steps[0].retry == RetryPolicy(
        maximum_attempts=2, initial_interval=timedelta(0), backoff_coefficient=2.0
    )


@pytest.mark.parametrize(
    ("retry", "path", "message"),
    [
        ({"backoff": "1s"}, "attempts", "missing required key 'attempts'"),
        ({"attempts": 0}, "attempts", "must be at least 1, got 0"),
        ({"attempts": "3"}, "attempts", "expected an integer, got string"),
        ({"attempts": 2, "factor": 0.5}, "factor", "must be at least 1.0, got 0.5"),
        ({"attempts": 2, "factor": "2"}, "factor", "expected a number, got string"),
        (
            {"attempts": 2, "backoff": "soon"},
            "backoff",
            f"invalid duration 'soon': {DURATION_HELP}",
        ),
        (
            {"attempts": 2, "backoff": "1m", "max_backoff": "10s"},
            "max_backoff",
            "must not be shorter than backoff (10s < 1m)",
        ),
        ({"attempts": 2, "tries": 3}, "tries", "unknown key 'tries'"),
    ],
)
def test_invalid_retry_fields_are_reported(
    retry: dict[str, Any], path: str, message: str
) -> None:
    """Each malformed retry field is reported at its path."""
    actual = problems_of(plan_with_step(retry=retry))

    assert actual == [Problem(f"groups[0].steps[0].retry.{path}", message)]


# -- iter_steps -----------------------------------------------------------------------


def test_iter_steps_yields_every_step_with_its_document_path() -> None:
    """Steps come with paths that point back into the document."""
    document = plan(
        kind="replica",
        before=[step(name="b0")],
        groups=[group(steps=[step(name="a"), step(name="b")]), group(name="h")],
        after=[step(name="z")],
        procedures={"failover": {"before": [step(name="f0")], "groups": [group()]}},
    )

    actual = [(path, found.name) for path, found in iter_steps(parse_plan(document))]

    assert actual == [
        ("before[0]", "b0"),
        ("groups[0].steps[0]", "a"),
        ("groups[0].steps[1]", "b"),
        ("groups[1].steps[0]", "s"),
        ("after[0]", "z"),
        ("procedures.failover.before[0]", "f0"),
        ("procedures.failover.groups[0].steps[0]", "s"),
    ]


# -- random valid plans ----------------------------------------------------------------

_labels = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=12,
).filter(lambda text: text.strip() != "")
_durations = st.one_of(
    st.integers(min_value=1, max_value=86_400),
    st.sampled_from(["500ms", "10s", "5m", "2h", "1d", "1h30m"]),
)


@st.composite
def _steps(draw: st.DrawFn, *, min_size: int = 1) -> list[dict[str, Any]]:
    names = draw(st.lists(_labels, min_size=min_size, max_size=4, unique=True))
    steps = []
    for name in names:
        document: dict[str, Any] = {
            "name": name,
            "action": draw(st.sampled_from(["shell", "http", "noop", "sleep"])),
        }
        if draw(st.booleans()):
            document["timeout"] = draw(_durations)
        if draw(st.booleans()):
            document["critical"] = draw(st.booleans())
        if draw(st.booleans()):
            document["retry"] = {"attempts": draw(st.integers(1, 5))}
        steps.append(document)
    return steps


@st.composite
def _groups(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(_labels, min_size=1, max_size=3, unique=True))
    return [
        {
            "name": name,
            "parallel": draw(st.integers(1, 8)),
            "targets": draw(st.lists(_labels, min_size=1, max_size=4, unique=True)),
            "steps": draw(_steps()),
        }
        for name in names
    ]


@given(groups=_groups(), before=_steps(min_size=0), after=_steps(min_size=0))
def test_random_valid_plans_parse_and_keep_their_structure(
    groups: list[dict[str, Any]],
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
) -> None:
    """Any plan built from valid parts parses, keeping every name in order."""
    document = {"name": "random", "before": before, "groups": groups, "after": after}

    actual = parse_plan(document).procedures["run"]

    assert [s.name for s in actual.before] == [s["name"] for s in before]
    assert [s.name for s in actual.after] == [s["name"] for s in after]
    assert [g.name for g in actual.groups] == [g["name"] for g in groups]
    assert [[t.name for t in g.targets] for g in actual.groups] == [
        g["targets"] for g in groups
    ]
    assert [[s.name for s in g.steps] for g in actual.groups] == [
        [s["name"] for s in g["steps"]] for g in groups
    ]
    assert [g.parallel for g in actual.groups] == [g["parallel"] for g in groups]
