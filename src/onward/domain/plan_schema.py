"""
Plan validation: turns a plan document (plain data) into a Plan, listing every problem.

The document is what YAML or JSON parsing gives (see ``docs/plans.md`` for the
format); :func:`parse_plan` checks all of it in one pass and raises
:class:`~onward.errors.InvalidDefinitionError` with every problem and its path,
such as ``groups[1].steps[0].timeout``. Whether each step's action is installed
is not checked here: the service does that, placing its problems with
:func:`iter_steps`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, Final

from onward.domain._schema_fields import (
    MappingReader,
    ProblemList,
    check_name,
    check_unique,
    is_value_of,
    item_path,
    json_value,
    key_path,
    one_of,
    suggestion,
)
from onward.domain._schema_params import (
    PARAM_NAME_PATTERN,
    coerce_params,
    parse_param_specs,
)
from onward.domain._schema_triggers import check_trigger_targets, parse_triggers
from onward.domain._schema_values import expected, format_duration, parse_duration
from onward.domain.plans import (
    DEFAULT_PROCEDURE,
    RECOVERY_PROCEDURES,
    CriticalFailurePolicy,
    Group,
    InterruptPolicy,
    Plan,
    PlanKind,
    Procedure,
    RetryPolicy,
    Step,
    Target,
)

__all__ = [
    "PARAM_NAME_PATTERN",
    "coerce_params",
    "format_duration",
    "iter_document_steps",
    "iter_steps",
    "parse_duration",
    "parse_plan",
]

_PLAN_KEYS: Final = (
    "name",
    "kind",
    "description",
    "parallel_groups",
    "on_critical_failure",
    "chain",
    "queue",
    "params",
    "before",
    "groups",
    "after",
    "procedures",
    "triggers",
)
_PROCEDURE_KEYS: Final = ("before", "groups", "after")
_GROUP_KEYS: Final = ("name", "parallel", "queue", "targets", "steps")
_TARGET_KEYS: Final = ("name", "vars", "queue")
_STEP_KEYS: Final = (
    "name",
    "action",
    "with",
    "critical",
    "timeout",
    "retry",
    "on_interrupt",
    "queue",
)
_RETRY_KEYS: Final = ("attempts", "backoff", "factor", "max_backoff")
_RECOVERY_KINDS: Final = frozenset({PlanKind.REPLICA, PlanKind.STORAGE})


def parse_plan(document: Mapping[str, Any]) -> Plan:
    """
    Validate a plan document and build the Plan it describes.

    Args:
        document: the parsed YAML or JSON document.

    Returns:
        The plan, with a ``run`` procedure when the top level has steps and one
        procedure per entry of ``procedures``.

    Raises:
        InvalidDefinitionError: listing every problem of the document at once,
            each with its path (subject ``plan``).
    """
    problems = ProblemList()
    if not isinstance(document, Mapping):
        problems.add("", expected("a mapping at the top of the plan", document))
        problems.raise_if_any(subject="plan")
    top = MappingReader(document, "", problems, allowed=_PLAN_KEYS)
    name = top.name("name", required=True) or ""
    plan = Plan(
        name=name,
        kind=top.choice("kind", PlanKind, PlanKind.GENERIC),
        description=top.text("description"),
        parallel_groups=top.flag("parallel_groups", default=False),
        on_critical_failure=top.choice(
            "on_critical_failure", CriticalFailurePolicy, CriticalFailurePolicy.HALT
        ),
        chain=_parse_chain(top, name),
        params=parse_param_specs(top),
        procedures=_parse_procedures(top),
        queue=top.name("queue"),
        triggers=parse_triggers(top),
    )
    check_trigger_targets(plan, top.at("triggers"), problems)
    problems.raise_if_any(subject="plan")
    return plan


def iter_steps(plan: Plan) -> Iterator[tuple[str, Step]]:
    """
    Yield every step of every procedure with its path in the plan document.

    Paths read like ``groups[0].steps[1]`` for the ``run`` procedure and
    ``procedures.failover.before[0]`` for the others.
    """
    for name, procedure in plan.procedures.items():
        base = "" if name == DEFAULT_PROCEDURE else key_path("procedures", name)
        yield from _procedure_steps(procedure, base)


def iter_document_steps(
    document: Mapping[str, Any],
) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """
    Yield (path, action, inputs) of every well-formed step item of a raw document.

    Unlike :func:`iter_steps` it needs no valid plan, so action inputs can be
    checked alongside the document's other problems and all reported at once.
    """
    yield from _document_procedure_steps(document, "")
    procedures = document.get("procedures")
    if isinstance(procedures, Mapping):
        for name, procedure in procedures.items():
            if isinstance(procedure, Mapping):
                yield from _document_procedure_steps(
                    procedure, key_path("procedures", name)
                )


def _document_procedure_steps(
    procedure: Mapping[str, Any], base: str
) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    yield from _document_step_list(procedure.get("before"), key_path(base, "before"))
    groups = procedure.get("groups")
    if isinstance(groups, list):
        for index, group in enumerate(groups):
            if isinstance(group, Mapping):
                group_path = item_path(key_path(base, "groups"), index)
                yield from _document_step_list(
                    group.get("steps"), key_path(group_path, "steps")
                )
    yield from _document_step_list(procedure.get("after"), key_path(base, "after"))


def _document_step_list(
    steps: object, base: str
) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    if not isinstance(steps, list):
        return
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping) or not isinstance(step.get("action"), str):
            continue
        inputs = step.get("with", {})
        if isinstance(inputs, Mapping):
            yield item_path(base, index), step["action"], inputs


def _procedure_steps(procedure: Procedure, base: str) -> Iterator[tuple[str, Step]]:
    for index, step in enumerate(procedure.before):
        yield item_path(key_path(base, "before"), index), step
    for group_index, group in enumerate(procedure.groups):
        steps_path = key_path(item_path(key_path(base, "groups"), group_index), "steps")
        for index, step in enumerate(group.steps):
            yield item_path(steps_path, index), step
    for index, step in enumerate(procedure.after):
        yield item_path(key_path(base, "after"), index), step


# -- procedures ---------------------------------------------------------------


def _parse_procedures(top: MappingReader) -> dict[str, Procedure]:
    procedures: dict[str, Procedure] = {}
    known_problems = len(top.problems.problems)
    run = _parse_procedure(top, DEFAULT_PROCEDURE)
    if _has_steps(run):
        procedures[DEFAULT_PROCEDURE] = run
    table = top.mapping("procedures")
    for key, value in (table or {}).items():
        path = top.at("procedures")
        if _check_procedure_name(key, key_path(path, key), top):
            procedure = _parse_named_procedure(key, value, path, top.problems)
            if procedure is not None:
                procedures[key] = procedure
    if not procedures and len(top.problems.problems) == known_problems:
        top.problems.add(
            "",
            "the plan has no steps: give it 'before', 'groups' or 'after' steps"
            " (the run procedure) or 'procedures'",
        )
    return procedures


def _has_steps(procedure: Procedure) -> bool:
    return bool(procedure.before or procedure.after or procedure.groups)


def _check_procedure_name(key: object, path: str, top: MappingReader) -> bool:
    problems = top.problems
    if not isinstance(key, str):
        problems.add(path, expected("a procedure name", key))
        return False
    if key == DEFAULT_PROCEDURE:
        message = (
            "the run procedure is written at the top level of the plan "
            "('before', 'groups', 'after'), not under 'procedures'"
        )
        problems.add(path, message)
        return False
    if key not in RECOVERY_PROCEDURES:
        hint = suggestion(key, RECOVERY_PROCEDURES)
        known = one_of(RECOVERY_PROCEDURES)
        problems.add(path, f"unknown procedure {key!r}{hint}; known: {known}")
        return False
    kind = top.get("kind")
    if kind is None or (is_value_of(kind, PlanKind) and kind not in _RECOVERY_KINDS):
        message = (
            f"procedure {key!r} is only allowed in plans of kind 'replica' or "
            f"'storage' (this plan's kind is {kind or 'generic'!r})"
        )
        problems.add(path, message)
        return False
    return True


def _parse_named_procedure(
    key: str, value: Any, base: str, problems: ProblemList
) -> Procedure | None:
    path = key_path(base, key)
    if not isinstance(value, Mapping):
        problems.add(
            path, expected("a mapping with 'before', 'groups', 'after'", value)
        )
        return None
    reader = MappingReader(value, path, problems, allowed=_PROCEDURE_KEYS)
    procedure = _parse_procedure(reader, key)
    if not _has_steps(procedure):
        problems.add(path, "a procedure needs at least one step")
    return procedure


def _parse_procedure(reader: MappingReader, name: str) -> Procedure:
    return Procedure(
        name=name,
        before=_parse_steps(reader.sequence("before"), reader.at("before"), reader),
        groups=_parse_groups(reader),
        after=_parse_steps(reader.sequence("after"), reader.at("after"), reader),
    )


# -- groups and targets -------------------------------------------------------


def _parse_groups(procedure: MappingReader) -> tuple[Group, ...]:
    base = procedure.at("groups")
    groups: list[tuple[str, Group]] = []
    for index, item in enumerate(procedure.sequence("groups")):
        path = item_path(base, index)
        if not isinstance(item, Mapping):
            procedure.problems.add(path, expected("a group (a mapping)", item))
            continue
        groups.append((path, _parse_group(item, path, procedure.problems)))
    names = [(key_path(path, "name"), group.name) for path, group in groups]
    check_unique(names, procedure.problems, "group name")
    return tuple(group for _, group in groups)


def _parse_group(item: Mapping[Any, Any], path: str, problems: ProblemList) -> Group:
    reader = MappingReader(item, path, problems, allowed=_GROUP_KEYS)
    return Group(
        name=reader.label("name"),
        parallel=reader.integer("parallel", default=1, minimum=1),
        queue=reader.name("queue"),
        targets=_parse_targets(reader),
        steps=_parse_steps(
            reader.sequence("steps", non_empty=True), reader.at("steps"), reader
        ),
    )


def _parse_targets(group: MappingReader) -> tuple[Target, ...]:
    base = group.at("targets")
    targets: list[tuple[str, Target]] = []
    for index, item in enumerate(group.sequence("targets", non_empty=True)):
        path = item_path(base, index)
        target = _parse_target(item, path, group.problems)
        if target is not None:
            targets.append((path, target))
    names = [(key_path(path, "name"), target.name) for path, target in targets]
    check_unique(names, group.problems, "target name")
    return tuple(target for _, target in targets)


def _parse_target(item: Any, path: str, problems: ProblemList) -> Target | None:
    if isinstance(item, str):
        reader = MappingReader({"name": item}, path, problems, allowed=_TARGET_KEYS)
        return Target(name=reader.label("name"))
    if not isinstance(item, Mapping):
        message = expected("a target name (a string) or a mapping", item)
        problems.add(path, message)
        return None
    reader = MappingReader(item, path, problems, allowed=_TARGET_KEYS)
    return Target(
        name=reader.label("name"),
        vars=_free_mapping(reader, "vars"),
        queue=reader.name("queue"),
    )


def _free_mapping(reader: MappingReader, key: str) -> dict[str, Any]:
    value = reader.mapping(key)
    if value is None:
        return {}
    copy: dict[str, Any] = json_value(value, reader.at(key), reader.problems)
    return copy


# -- steps --------------------------------------------------------------------


def _parse_steps(
    items: Sequence[Any], base: str, parent: MappingReader
) -> tuple[Step, ...]:
    steps: list[tuple[str, Step]] = []
    for index, item in enumerate(items):
        path = item_path(base, index)
        if not isinstance(item, Mapping):
            parent.problems.add(path, expected("a step (a mapping)", item))
            continue
        steps.append((path, _parse_step(item, path, parent.problems)))
    names = [(key_path(path, "name"), step.name) for path, step in steps]
    check_unique(names, parent.problems, "step name")
    return tuple(step for _, step in steps)


def _parse_step(item: Mapping[Any, Any], path: str, problems: ProblemList) -> Step:
    reader = MappingReader(item, path, problems, allowed=_STEP_KEYS)
    return Step(
        name=reader.label("name"),
        action=reader.label("action"),
        inputs=_free_mapping(reader, "with"),
        critical=reader.flag("critical", default=True),
        timeout=reader.duration("timeout", positive=True),
        retry=_parse_retry(reader),
        on_interrupt=reader.choice(
            "on_interrupt", InterruptPolicy, InterruptPolicy.HALT
        ),
        queue=reader.name("queue"),
    )


def _parse_retry(step: MappingReader) -> RetryPolicy:
    value = step.mapping("retry")
    if value is None:
        return RetryPolicy()
    reader = MappingReader(value, step.at("retry"), step.problems, allowed=_RETRY_KEYS)
    if not reader.has("attempts"):
        reader.missing("attempts")
    backoff = reader.duration("backoff") or timedelta(0)
    max_backoff = reader.duration("max_backoff")
    if max_backoff is not None and max_backoff < backoff:
        message = (
            f"must not be shorter than backoff ({format_duration(max_backoff)} < "
            f"{format_duration(backoff)})"
        )
        reader.problems.add(reader.at("max_backoff"), message)
    return RetryPolicy(
        maximum_attempts=reader.integer("attempts", default=1, minimum=1),
        initial_interval=backoff,
        backoff_coefficient=reader.number("factor", default=2.0, minimum=1.0),
        maximum_interval=max_backoff,
    )


# -- chain ----------------------------------------------------------------------


def _parse_chain(top: MappingReader, name: str) -> tuple[str, ...]:
    base = top.at("chain")
    chain: list[tuple[str, str]] = []
    for index, item in enumerate(top.sequence("chain")):
        path = item_path(base, index)
        if not isinstance(item, str):
            top.problems.add(path, expected("a plan name", item))
            continue
        if item == name:
            top.problems.add(path, "a plan cannot chain itself")
        else:
            check_name(item, path, top.problems)
        chain.append((path, item))
    check_unique(chain, top.problems, "chained plan")
    return tuple(item for _, item in chain)
