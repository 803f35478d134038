"""
Run parameters: their definitions in a plan and the values a run is given.

Private to ``onward.domain.plan_schema``, which re-exports :func:`coerce_params`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from onward.domain._schema_fields import (
    MappingReader,
    ProblemList,
    check_unique,
    is_value_of,
    item_path,
    key_path,
    suggestion,
)
from onward.domain._schema_values import (
    expected,
    param_from_text,
    param_value,
)
from onward.domain.plans import ParamSpec, ParamType, Plan

#: run parameter names: usable as ``run.params.<name>`` in templates
PARAM_NAME_PATTERN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

_PARAM_KEYS: Final = ("type", "required", "default", "description", "choices")


# -- parameter definitions ------------------------------------------------------


def parse_param_specs(top: MappingReader) -> dict[str, ParamSpec]:
    """Read the plan's ``params`` mapping into parameter specs by name."""
    base = top.at("params")
    specs: dict[str, ParamSpec] = {}
    for key, value in (top.mapping("params") or {}).items():
        path = key_path(base, key)
        if not isinstance(key, str) or not PARAM_NAME_PATTERN.fullmatch(key):
            message = (
                f"invalid parameter name {key!r}: use letters, digits and '_', "
                "starting with a letter or '_'"
            )
            top.problems.add(path, message)
            continue
        if value is not None and not isinstance(value, Mapping):
            message = expected("a mapping (type, required, default, ...)", value)
            top.problems.add(path, message)
            continue
        specs[key] = _parse_param(key, value or {}, path, top.problems)
    return specs


def _parse_param(
    name: str, value: Mapping[Any, Any], path: str, problems: ProblemList
) -> ParamSpec:
    reader = MappingReader(value, path, problems, allowed=_PARAM_KEYS)
    kind = reader.choice("type", ParamType, ParamType.STRING)
    required = reader.flag("required", default=False)
    description = reader.text("description")
    if reader.has("type") and not is_value_of(reader.get("type"), ParamType):
        return ParamSpec(name=name, type=kind, required=required)
    choices = _parse_choices(reader, kind)
    default = _parse_default(reader, kind, choices, required=required)
    return ParamSpec(
        name=name,
        type=kind,
        required=required,
        default=default,
        description=description,
        choices=choices,
    )


def _parse_choices(reader: MappingReader, kind: ParamType) -> tuple[Any, ...]:
    base = reader.at("choices")
    items = reader.sequence("choices", non_empty=reader.has("choices"))
    choices: list[tuple[str, Any]] = []
    for index, item in enumerate(items):
        path = item_path(base, index)
        try:
            choices.append((path, param_value(item, kind)))
        except ValueError as exc:
            reader.problems.add(path, str(exc))
    labelled = [(path, str(choice)) for path, choice in choices]
    check_unique(labelled, reader.problems, "choice")
    return tuple(choice for _, choice in choices)


def _parse_default(
    reader: MappingReader, kind: ParamType, choices: Sequence[Any], *, required: bool
) -> Any:
    if not reader.has("default"):
        return None
    path = reader.at("default")
    if required:
        message = "a required parameter cannot have a default; drop one of them"
        reader.problems.add(path, message)
        return None
    try:
        default = param_value(reader.get("default"), kind)
    except ValueError as exc:
        reader.problems.add(path, str(exc))
        return None
    if choices and default not in choices:
        reader.problems.add(path, f"must be one of the choices, got {default!r}")
    return default


# -- run parameters ---------------------------------------------------------------


def coerce_params(
    plan: Plan, raw: Mapping[str, Any], *, from_strings: bool = False
) -> dict[str, Any]:
    """
    Check a run's parameters against the plan and convert them.

    Every declared parameter is in the result: the value given, else its default,
    else None (when it is optional). Datetimes come back as ISO-8601 strings; one
    given without a time zone is taken as UTC.

    Args:
        plan: the plan whose ``params`` declare the parameters.
        raw: the parameters given for the run; a null value counts as not given.
        from_strings: the values are text, as from ``--param name=value`` on the
            command line, and are parsed per type (booleans: true/false, yes/no,
            on/off, 1/0). Values that are not strings are checked as they are.

    Returns:
        The parameters by name, JSON-safe.

    Raises:
        InvalidDefinitionError: listing every unknown, missing or invalid
            parameter at ``params.<name>`` (subject ``parameters``).
    """
    problems = ProblemList()
    if not isinstance(raw, Mapping):
        problems.add("params", expected("a mapping of parameter names to values", raw))
        problems.raise_if_any(subject="parameters")
    for key in raw:
        if key not in plan.params:
            hint = suggestion(str(key), list(plan.params))
            problems.add(key_path("params", key), f"unknown parameter {key!r}{hint}")
    values = {
        name: _coerce_param(spec, raw.get(name), problems, from_strings=from_strings)
        for name, spec in plan.params.items()
    }
    problems.raise_if_any(subject="parameters")
    return values


def _coerce_param(
    spec: ParamSpec, value: Any, problems: ProblemList, *, from_strings: bool
) -> Any:
    path = key_path("params", spec.name)
    if value is None:
        if spec.required and spec.default is None:
            problems.add(path, "missing required parameter")
        return spec.default
    try:
        if from_strings and isinstance(value, str):
            converted = param_from_text(value, spec.type)
        else:
            converted = param_value(value, spec.type)
    except ValueError as exc:
        problems.add(path, str(exc))
        return None
    if spec.choices and converted not in spec.choices:
        allowed = ", ".join(repr(choice) for choice in spec.choices)
        problems.add(path, f"must be one of {allowed}, got {converted!r}")
    return converted
