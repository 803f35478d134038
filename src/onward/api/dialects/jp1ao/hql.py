"""
JP1/AO's list query parameters: a subset of HQL::filter, HQL::sortBy, paging, fields.

``HQL::filter`` takes comparisons joined by ``and`` (parentheses around the
whole or a part are allowed; ``or`` is refused):

* ``status``: ``eq``/``=``/``ne``/``<>``/``!=``, ``in``/``not in``;
* ``instanceID``, ``serviceID``: the same;
* ``name``, ``serviceName``, ``submitter``: the same plus ``starts``, ``ends``;
* ``submitTime``, ``startTime``, ``completionTime``: ``eq``, ``ne``, ``gt``,
  ``ge``, ``lt``, ``le`` (and symbols) against ISO 8601 strings.

Strings are quoted with ``'`` (doubled inside), numbers bare (ASCII digits,
at most a Java ``long``). ``HQL::sortBy`` accepts ``instanceID`` (the task's
number: the order of creation) and ``submitTime`` (ties in the order of
creation), ASC or DESC; without it the newest task comes first. Anything else
is a 400 "query parameter is invalid".
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NoReturn

from onward.api.dialects import values
from onward.api.dialects.jp1ao.errors import Jp1RequestError
from onward.api.dialects.jp1ao.schemas import (
    TASK_MEMBERS,
    TASK_STATUS,
    WORKSPACE,
    member_values,
)
from onward.domain.runs import RunStatus
from onward.service.numbers import NumberedRun
from onward.service.ports import RunFilter

#: a test a task must pass to be listed
TaskTest = Callable[[NumberedRun], bool]
#: a task's sort key
SortKey = Callable[[NumberedRun], Any]

#: the members a filter may name, with the kind of their values
MEMBERS: Final = {
    "status": "enum",
    "instanceID": "number",
    "serviceID": "number",
    "name": "string",
    "serviceName": "string",
    "submitter": "string",
    "submitTime": "time",
    "startTime": "time",
    "completionTime": "time",
}
#: digits of the largest number a member or parameter takes (a Java ``long``)
_MAX_DIGITS: Final = len(str(values.INT64_MAX))
#: the members HQL::sortBy takes, with their sort keys
SORT_KEYS: Final[Mapping[str, SortKey]] = {
    "instanceID": lambda task: task.number,
    "submitTime": lambda task: task.run.created_at,
}
_OPERATORS: Final = {
    "eq": "eq",
    "=": "eq",
    "ne": "ne",
    "<>": "ne",
    "!=": "ne",
    "gt": "gt",
    ">": "gt",
    "ge": "ge",
    ">=": "ge",
    "lt": "lt",
    "<": "lt",
    "le": "le",
    "<=": "le",
    "starts": "starts",
    "ends": "ends",
}
_ALLOWED: Final = {
    "enum": {"eq", "ne", "in", "not in"},
    "number": {"eq", "ne", "in", "not in"},
    "string": {"eq", "ne", "in", "not in", "starts", "ends"},
    "time": {"eq", "ne", "gt", "ge", "lt", "le"},
}
_TOKEN: Final = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>[0-9]+)"
    r"|(?P<word>\[[A-Za-z_]\w*\]|[A-Za-z_]\w*)"
    r"|(?P<op><>|!=|>=|<=|=|>|<)|(?P<punct>[()\[\],]))"
)
_COMPARE: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "starts": lambda a, b: str(a).startswith(str(b)),
    "ends": lambda a, b: str(a).endswith(str(b)),
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
}


@dataclass(frozen=True, slots=True)
class Condition:
    """One comparison of an HQL::filter."""

    member: str
    operator: str
    value: Any

    def holds(self, actual: Any) -> bool:
        """Tell whether a member's value satisfies the comparison."""
        if actual is None:
            return self.operator in ("ne", "not in")
        return _COMPARE[self.operator](actual, self.value)


def whole_number(text: str) -> int | None:
    """Return ``text`` as a whole number up to a Java ``long``, or None.

    ASCII digits only, as ``values.decimal`` reads them; leading zeros are
    dropped first, since Python refuses to convert more than 4,300 digits.
    """
    if len(text) > _MAX_DIGITS:
        text = text.lstrip("0") or "0"
        if len(text) > _MAX_DIGITS:
            return None
    return values.decimal(text)


def refuse(message: str) -> NoReturn:
    """Raise the 400 of an invalid query parameter."""
    raise Jp1RequestError(400, f"A query parameter is invalid: {message}")


def parse_filter(text: str) -> tuple[Condition, ...]:
    """Return the comparisons of an HQL::filter (all must hold)."""
    tokens = _tokens(text)
    conditions: list[Condition] = []
    position = 0
    while position < len(tokens):
        kind, value = tokens[position]
        if (kind, value) in (("punct", "("), ("punct", ")")) or (
            kind == "word" and value.lower() == "and"
        ):
            position += 1
            continue
        if kind == "word" and value.lower() == "or":
            refuse("'or' is not supported in HQL::filter")
        condition, position = _comparison(tokens, position)
        conditions.append(condition)
    if not conditions:
        refuse("HQL::filter is empty")
    return tuple(conditions)


def parse_sort(text: str) -> tuple[SortKey, bool]:
    """Return HQL::sortBy's sort key and whether it sorts descending (DESC)."""
    members: list[str] = []
    descending: bool | None = None
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or words[0] not in SORT_KEYS:
            refuse(f"HQL::sortBy supports {', '.join(sorted(SORT_KEYS))}")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            refuse("HQL::sortBy takes ASC or DESC")
        if descending is not None and descending != (direction == "DESC"):
            refuse("HQL::sortBy members must sort the same way")
        descending = direction == "DESC"
        members.append(words[0])
    keys = tuple(SORT_KEYS[member] for member in members)

    def key(task: NumberedRun) -> Any:
        # the number last: tasks that tie on the members keep the order of creation
        return (*(member_key(task) for member_key in keys), task.number)

    return key, bool(descending)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            refuse(f"HQL::filter cannot be read at {text[position:]!r}")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


def _comparison(tokens: list[tuple[str, str]], start: int) -> tuple[Condition, int]:
    kind, name = tokens[start]
    member = name.strip("[]")
    if kind != "word" or member not in MEMBERS:
        refuse(f"HQL::filter cannot compare {name!r}")
    operator, position = _operator(tokens, start + 1)
    if operator not in _ALLOWED[MEMBERS[member]]:
        refuse(f"HQL::filter cannot use {operator!r} on {member}")
    if operator in ("in", "not in"):
        values, position = _tuple(tokens, position)
        converted: Any = frozenset(_convert(member, v) for v in values)
    else:
        value, position = _value(tokens, position)
        converted = _convert(member, value)
    return Condition(member, operator, converted), position


def _operator(tokens: list[tuple[str, str]], position: int) -> tuple[str, int]:
    if position >= len(tokens):
        refuse("HQL::filter ends before an operator")
    kind, word = tokens[position]
    lowered = word.lower()
    following = tokens[position + 1][1].lower() if position + 1 < len(tokens) else ""
    if lowered == "not" and following == "in":
        return "not in", position + 2
    if lowered == "in":
        return "in", position + 1
    if kind in ("op", "word") and lowered in _OPERATORS:
        return _OPERATORS[lowered], position + 1
    refuse(f"HQL::filter has no operator {word!r}")


def _tuple(tokens: list[tuple[str, str]], position: int) -> tuple[list[str], int]:
    if position >= len(tokens) or tokens[position] != ("punct", "["):
        refuse("HQL::filter expects [ after in")
    values: list[str] = []
    position += 1
    while position < len(tokens) and tokens[position] != ("punct", "]"):
        if tokens[position] != ("punct", ","):
            value, position = _value(tokens, position)
            values.append(value)
        else:
            position += 1
    if position >= len(tokens) or not values:
        refuse("HQL::filter has an unclosed or empty [ ]")
    return values, position + 1


def _value(tokens: list[tuple[str, str]], position: int) -> tuple[str, int]:
    if position >= len(tokens) or tokens[position][0] not in ("string", "number"):
        refuse("HQL::filter expects a 'string' or a number")
    kind, value = tokens[position]
    if kind == "string":
        value = value[1:-1].replace("''", "'")
    return value, position + 1


def _convert(member: str, value: str) -> Any:
    kind = MEMBERS[member]
    if kind == "number":
        number = whole_number(value)
        if number is None:
            refuse(f"{member} compares with a number from 0 to {values.INT64_MAX}")
        return number
    if kind == "time":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            refuse(f"{member} compares with an ISO 8601 time")
        if moment.tzinfo is None:
            refuse(f"{member} needs a time zone")
        return moment
    return value


#: the most tasks one list answers (HQL::limit's default and maximum)
MAX_LIMIT: Final = 10_000
_LIST_PARAMETERS: Final = frozenset(
    {
        "HQL::filter",
        "HQL::fields",
        "HQL::sortBy",
        "HQL::offset",
        "HQL::limit",
        "serviceID",
        "scheduleID",
        "alt",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskQuery:
    """A task list request in Onward's terms."""

    run_filter: RunFilter
    keep: TaskTest
    offset: int
    limit: int
    key: SortKey
    descending: bool
    fields: tuple[str, ...]


def parse_list_query(items: Sequence[tuple[str, str]]) -> TaskQuery:
    """Return the list request of a task list's query parameters; raise a 400."""
    params: dict[str, str] = {}
    for name, value in items:
        if name not in _LIST_PARAMETERS:
            refuse(f"unknown parameter {name!r}")
        if name in params:
            refuse(f"{name} is given twice")
        params[name] = value
    if params.get("alt", "json").lower() != "json":
        refuse("alt supports json only")
    if "scheduleID" in params:
        refuse("scheduleID is not supported: Onward runs have no schedule id")
    conditions = (
        list(parse_filter(params["HQL::filter"])) if "HQL::filter" in params else []
    )
    if "serviceID" in params:
        conditions.append(
            Condition("serviceID", "eq", _convert("serviceID", params["serviceID"]))
        )
    key, descending = (
        parse_sort(params["HQL::sortBy"])
        if "HQL::sortBy" in params
        else (SORT_KEYS["instanceID"], True)
    )
    return TaskQuery(
        run_filter=_pushed_down(conditions),
        keep=_test(tuple(conditions)),
        offset=_count(params, "HQL::offset", 0),
        limit=min(_count(params, "HQL::limit", MAX_LIMIT), MAX_LIMIT),
        key=key,
        descending=descending,
        fields=_fields(params.get("HQL::fields")),
    )


def _count(params: Mapping[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    count = whole_number(text)
    if count is None:
        refuse(f"{name} takes a whole number from 0 to {values.INT64_MAX}")
    return count


def _fields(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    fields = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in fields if name not in TASK_MEMBERS]
    if unknown or not fields:
        refuse(f"HQL::fields names unknown members: {', '.join(unknown)}")
    return fields


def _pushed_down(conditions: list[Condition]) -> RunFilter:
    """Return the store filter doing what it can of the conditions (all hold)."""
    statuses: frozenset[RunStatus] | None = None
    plan_name = None
    for condition in conditions:
        if condition.member == "status" and condition.operator in ("eq", "in"):
            wanted = (
                condition.value if condition.operator == "in" else {condition.value}
            )
            found = frozenset(s for s, name in TASK_STATUS.items() if name in wanted)
            statuses = found if statuses is None else statuses & found
        if condition.member == "serviceName" and condition.operator == "eq":
            plan_name = condition.value
    return RunFilter(
        workspace=WORKSPACE,
        plan_name=plan_name,
        # no run status matches: let the test refuse every run
        statuses=tuple(sorted(statuses)) if statuses else (),
    )


def _test(conditions: tuple[Condition, ...]) -> TaskTest:
    def keep(task: NumberedRun) -> bool:
        members = member_values(task)
        return all(c.holds(members[c.member]) for c in conditions)

    return keep
