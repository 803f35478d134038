"""
Trigger rules: which data objects match an event trigger, which timer fires are due.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from onward.domain.plans import Condition, ConditionOp, MissedFires, Trigger

_MISSING: Final = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class DataObject:
    """A data object posted under a data class; event triggers match on it."""

    object_id: str
    workspace: str
    dataclass: str
    #: the object itself (JSON)
    content: Mapping[str, Any]
    created_at: datetime
    created_by: str = ""


def field_value(data: Any, path: str) -> Any:
    """Return the value at a dotted path of a data object (``_MISSING`` if absent)."""
    value = data
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def condition_holds(condition: Condition, data: Any) -> bool:
    """Tell whether a data object satisfies one condition."""
    value = field_value(data, condition.field)
    if condition.op is ConditionOp.EXISTS:
        return (value is not _MISSING) is (condition.value is not False)
    if value is _MISSING:
        return condition.op is ConditionOp.NE or condition.op is ConditionOp.NOT_IN
    test = _TESTS[condition.op]
    try:
        return bool(test(value, condition.value))
    except (TypeError, re.error):
        return False


def matches(trigger: Trigger, dataclass: str, data: Any) -> bool:
    """Tell whether an event trigger starts a run for this data object."""
    return (
        trigger.enabled
        and trigger.dataclass == dataclass
        and all(condition_holds(c, data) for c in trigger.conditions)
    )


def due_fire(
    fire_times: Iterable[datetime],
    *,
    missed: MissedFires,
    now: datetime,
    on_time: timedelta,
) -> datetime | None:
    """Return the fire time to start a run for, of those passed since the last fire.

    ``fire_times`` are the schedule's times after the last fire, in order, up to
    ``now``. The latest one fires if it is on time (within ``on_time`` of now);
    older ones were missed while Onward was down: ``run_once`` starts one run for
    them, ``skip`` forgets them.
    """
    times = list(fire_times)
    if not times:
        return None
    latest = times[-1]
    if now - latest <= on_time or missed is MissedFires.RUN_ONCE:
        return latest
    return None


def _contains(value: Any, expected: Any) -> bool:
    return expected in value


def _matches(value: Any, pattern: Any) -> bool:
    return re.search(str(pattern), str(value)) is not None


_TESTS: Final[dict[ConditionOp, Callable[[Any, Any], Any]]] = {
    ConditionOp.EQ: lambda value, expected: value == expected,
    ConditionOp.NE: lambda value, expected: value != expected,
    ConditionOp.IN: lambda value, expected: value in expected,
    ConditionOp.NOT_IN: lambda value, expected: value not in expected,
    ConditionOp.CONTAINS: _contains,
    ConditionOp.GT: lambda value, expected: value > expected,
    ConditionOp.GE: lambda value, expected: value >= expected,
    ConditionOp.LT: lambda value, expected: value < expected,
    ConditionOp.LE: lambda value, expected: value <= expected,
    ConditionOp.MATCHES: _matches,
}
