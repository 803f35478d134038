"""
Reading a plan's ``triggers``: timer (cron) and event (data class, conditions).

Cron syntax and time zones are checked by the service (they need libraries and
the time zone database); here the shape of each trigger is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from onward.domain._schema_fields import (
    MappingReader,
    ProblemList,
    check_unique,
    item_path,
    json_value,
    key_path,
)
from onward.domain._schema_params import coerce_params
from onward.domain._schema_values import expected
from onward.domain.plans import (
    DEFAULT_PROCEDURE,
    Condition,
    ConditionOp,
    MissedFires,
    Plan,
    Trigger,
    TriggerKind,
)
from onward.errors import InvalidDefinitionError

_TRIGGER_KEYS: Final = (
    "name",
    "type",
    "procedure",
    "params",
    "enabled",
    "cron",
    "timezone",
    "missed",
    "dataclass",
    "when",
)
_CONDITION_KEYS: Final = ("field", "op", "value")
_TIMER_ONLY: Final = ("cron", "timezone", "missed")
_EVENT_ONLY: Final = ("dataclass", "when")


def parse_triggers(top: MappingReader) -> tuple[Trigger, ...]:
    """Read the plan's ``triggers`` list."""
    base = top.at("triggers")
    triggers = []
    for index, item in enumerate(top.sequence("triggers")):
        path = item_path(base, index)
        if not isinstance(item, Mapping):
            top.problems.add(path, expected("a mapping (name, type, ...)", item))
            continue
        triggers.append(_parse_trigger(item, path, top.problems))
    check_unique(
        [
            (key_path(item_path(base, i), "name"), t.name)
            for i, t in enumerate(triggers)
        ],
        top.problems,
        "trigger name",
    )
    return tuple(triggers)


def _parse_trigger(
    item: Mapping[Any, Any], path: str, problems: ProblemList
) -> Trigger:
    reader = MappingReader(item, path, problems, allowed=_TRIGGER_KEYS)
    kind = reader.choice("type", TriggerKind, TriggerKind.TIMER)
    if not reader.has("type"):
        reader.missing("type")
    _refuse_keys_of_other_kind(reader, kind)
    params = reader.mapping("params") or {}
    trigger = Trigger(
        name=reader.label("name"),
        kind=kind,
        procedure=reader.text("procedure", default=DEFAULT_PROCEDURE),
        params=json_value(params, reader.at("params"), problems),
        enabled=reader.flag("enabled", default=True),
        cron=reader.text("cron"),
        timezone=reader.text("timezone", default="UTC"),
        missed=reader.choice("missed", MissedFires, MissedFires.SKIP),
        dataclass=reader.text("dataclass"),
        conditions=_parse_conditions(reader),
    )
    if kind is TriggerKind.TIMER and not trigger.cron:
        reader.missing("cron")
    if kind is TriggerKind.EVENT and not trigger.dataclass:
        reader.missing("dataclass")
    return trigger


def _refuse_keys_of_other_kind(reader: MappingReader, kind: TriggerKind) -> None:
    other = _EVENT_ONLY if kind is TriggerKind.TIMER else _TIMER_ONLY
    for key in other:
        if reader.has(key):
            reader.problems.add(reader.at(key), f"not a key of {kind.value} triggers")


def _parse_conditions(reader: MappingReader) -> tuple[Condition, ...]:
    base = reader.at("when")
    conditions = []
    for index, item in enumerate(reader.sequence("when")):
        path = item_path(base, index)
        if not isinstance(item, Mapping):
            reader.problems.add(path, expected("a mapping (field, op, value)", item))
            continue
        condition = MappingReader(item, path, reader.problems, allowed=_CONDITION_KEYS)
        op = condition.choice("op", ConditionOp, ConditionOp.EQ)
        value = json_value(
            condition.get("value"), key_path(path, "value"), reader.problems
        )
        if op in (ConditionOp.IN, ConditionOp.NOT_IN) and not isinstance(value, list):
            reader.problems.add(key_path(path, "value"), expected("a list", value))
        conditions.append(Condition(field=condition.label("field"), op=op, value=value))
    return tuple(conditions)


def check_trigger_targets(plan: Plan, base: str, problems: ProblemList) -> None:
    """Record triggers naming a procedure the plan lacks, or parameters it refuses."""
    for index, trigger in enumerate(plan.triggers):
        path = item_path(base, index)
        if trigger.procedure not in plan.procedures:
            known = ", ".join(sorted(plan.procedures)) or "none"
            problems.add(
                key_path(path, "procedure"),
                f"the plan has no procedure {trigger.procedure!r} (it has: {known})",
            )
        try:
            coerce_params(plan, trigger.params)
        except InvalidDefinitionError as exc:
            for problem in exc.problems:
                problems.add(key_path(path, problem.path), problem.message)
