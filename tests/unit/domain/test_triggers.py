"""Trigger rules: parsing, event conditions and due timer fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from onward import errors
from onward.domain.plan_schema import parse_plan
from onward.domain.plans import (
    Condition,
    ConditionOp,
    MissedFires,
    Trigger,
    TriggerKind,
)
from onward.domain.triggers import condition_holds, due_fire, matches

BASE: dict[str, Any] = {
    "name": "p",
    "params": {"level": {"type": "integer", "default": 1}},
    "groups": [
        {"name": "g", "targets": ["t"], "steps": [{"name": "s", "action": "noop"}]}
    ],
}
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_timer_and_event_triggers_are_read_from_the_plan() -> None:
    """Both kinds of trigger come out with their fields."""
    document = {
        **BASE,
        "triggers": [
            {
                "name": "nightly",
                "type": "timer",
                "cron": "0 3 * * *",
                "timezone": "Europe/Paris",
                "missed": "run_once",
                "params": {"level": 2},
            },
            {
                "name": "alerts",
                "type": "event",
                "dataclass": "alert",
                "when": [
                    {"field": "severity", "op": "in", "value": ["high", "critical"]}
                ],
            },
        ],
    }

    timer, event = parse_plan(document).triggers

    assert (
        timer.kind,
        timer.cron,
        timer.timezone,
        timer.missed,
        dict(timer.params),
    ) == (
        TriggerKind.TIMER,
        "0 3 * * *",
        "Europe/Paris",
        MissedFires.RUN_ONCE,
        {"level": 2},
    )
    assert (event.kind, event.dataclass, event.conditions[0].op) == (
        TriggerKind.EVENT,
        "alert",
        ConditionOp.IN,
    )


def test_trigger_problems_are_reported_with_their_paths() -> None:
    """Missing keys, keys of the other kind, bad params and duplicates are named."""
    document = {
        **BASE,
        "triggers": [
            {"name": "a", "type": "timer", "dataclass": "x", "params": {"level": "hi"}},
            {"name": "a", "type": "event"},
        ],
    }

    with pytest.raises(errors.InvalidDefinitionError) as raised:
        parse_plan(document)

    paths = {problem.path for problem in raised.value.problems}
    assert {
        "triggers[0].cron",
        "triggers[0].dataclass",
        "triggers[0].params.level",
        "triggers[1].dataclass",
        "triggers[1].name",
    } <= paths


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (Condition(field="severity", value="high"), True),
        (Condition(field="severity", op=ConditionOp.NE, value="low"), True),
        (Condition(field="host.name", value="db1"), True),
        (Condition(field="tags", op=ConditionOp.CONTAINS, value="prod"), True),
        (Condition(field="score", op=ConditionOp.GT, value=5), True),
        (Condition(field="score", op=ConditionOp.LE, value=5), False),
        (Condition(field="score", op=ConditionOp.GT, value="x"), False),
        (Condition(field="missing", op=ConditionOp.EXISTS), False),
        (Condition(field="missing", op=ConditionOp.EXISTS, value=False), True),
        (Condition(field="missing", value="x"), False),
        (Condition(field="missing", op=ConditionOp.NE, value="x"), True),
        (Condition(field="host.name", op=ConditionOp.MATCHES, value="^db[0-9]$"), True),
        (Condition(field="tags.0", value="prod"), True),
        (Condition(field="severity", op=ConditionOp.IN, value=["low", "high"]), True),
    ],
)
def test_conditions_test_fields_of_the_data_object(
    condition: Condition, expected: bool
) -> None:
    """Each operator compares the field at a dotted path."""
    data = {"severity": "high", "host": {"name": "db1"}, "tags": ["prod"], "score": 7}

    assert condition_holds(condition, data) is expected


def test_an_event_trigger_needs_its_data_class_and_every_condition() -> None:
    """A trigger matches only its data class, all conditions, when enabled."""
    trigger = Trigger(
        name="t",
        kind=TriggerKind.EVENT,
        dataclass="alert",
        conditions=(Condition(field="severity", value="high"),),
    )

    assert matches(trigger, "alert", {"severity": "high"})
    assert not matches(trigger, "incident", {"severity": "high"})
    assert not matches(trigger, "alert", {"severity": "low"})


@pytest.mark.parametrize(
    ("times", "missed", "expected"),
    [
        ([], MissedFires.SKIP, None),
        ([NOW - timedelta(seconds=1)], MissedFires.SKIP, NOW - timedelta(seconds=1)),
        ([NOW - timedelta(hours=2), NOW - timedelta(hours=1)], MissedFires.SKIP, None),
        (
            [NOW - timedelta(hours=2), NOW - timedelta(hours=1)],
            MissedFires.RUN_ONCE,
            NOW - timedelta(hours=1),
        ),
    ],
    ids=["nothing-due", "on-time", "missed-skip", "missed-run-once"],
)
def test_a_timer_fires_on_time_and_handles_missed_fires_by_policy(
    times: list[datetime], missed: MissedFires, expected: datetime | None
) -> None:
    """On-time fires always fire; missed ones once or never, by policy."""
    actual = due_fire(times, missed=missed, now=NOW, on_time=timedelta(minutes=1))

    assert actual == expected
