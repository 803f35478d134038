"""
Console models of plan pages: start form fields, a version's page, problem lines.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from onward import errors
from onward.domain.plan_schema import coerce_params
from onward.domain.plans import ParamSpec, ParamType, Plan
from onward.errors import LocatedProblem
from onward.service.operations import OperationView
from onward.service.ports import PlanVersion
from onward.ui.console import Console
from onward.ui.forms import Form
from onward.ui.session import Scope

_INPUT_TYPES: Final[Mapping[ParamType, str]] = {
    ParamType.STRING: "text",
    ParamType.INTEGER: "number",
    ParamType.NUMBER: "number",
    ParamType.BOOLEAN: "select",
    ParamType.DATETIME: "datetime-local",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamField:
    """A run parameter as a form field."""

    spec: ParamSpec
    #: the HTML input type (``select`` for choices and booleans)
    input_type: str
    #: what the field shows: what was sent, else the default
    value: str
    choices: tuple[str, ...]
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanPage:
    """A plan version with its definition, its versions and its start form."""

    stored: PlanVersion
    versions: tuple[PlanVersion, ...]
    plan: Plan
    fields: tuple[ParamField, ...]
    #: False: the plan is disabled and starts no run; the start form is not shown
    enabled: bool = True
    #: problems of a refused start that belong to no field
    problems: tuple[errors.Problem, ...] = ()
    #: the procedure and chain choice sent with a refused start
    procedure: str = ""
    chain: bool = False


def param_fields(
    plan: Plan, sent: Mapping[str, str], problems: Sequence[errors.Problem] = ()
) -> tuple[ParamField, ...]:
    """Return the plan's parameters as form fields, with what was sent and errors."""
    by_field = {p.path.removeprefix("params."): p.message for p in problems}
    fields = []
    for name, spec in plan.params.items():
        choices = tuple(_text(c) for c in spec.choices)
        if spec.type is ParamType.BOOLEAN and not choices:
            choices = ("true", "false")
        default = "" if spec.default is None else _text(spec.default)
        fields.append(
            ParamField(
                spec=spec,
                input_type="select" if choices else _INPUT_TYPES[spec.type],
                value=sent.get(name, default),
                choices=choices,
                error=by_field.get(name, ""),
            )
        )
    return tuple(fields)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def plan_page(
    console: Console, workspace: str, name: str, version: int | None = None
) -> PlanPage:
    """Return a plan version (the latest by default) as its page shows it."""
    current = await console.switches.current(workspace, name)
    stored = current.latest
    if version is not None:
        stored = await console.plans.get(workspace, name, version)
    versions = await console.plans.versions(workspace, name)
    plan = await console.engine.plan_version(
        workspace=workspace, name=name, version=stored.version
    )
    return PlanPage(
        stored=stored,
        versions=tuple(reversed(versions)),
        plan=plan,
        fields=param_fields(plan, {}),
        enabled=current.enabled,
    )


async def start_run(
    console: Console, scope: Scope, name: str, form: Form
) -> OperationView:
    """Start a run of the plan version named in the form, with its parameters.

    Raises:
        InvalidDefinitionError: a parameter is missing or invalid (each at
            ``params.<name>``), or the procedure is unknown.
    """
    stored = await console.plans.get(scope.workspace, name, _form_version(form))
    plan = await console.engine.plan_version(
        workspace=scope.workspace, name=name, version=stored.version
    )
    sent = {key: form.get(f"param.{key}") for key in plan.params}
    params = coerce_params(
        plan, {k: v for k, v in sent.items() if v}, from_strings=True
    )
    return await console.operations.start_run(
        scope.caller(
            reason=form.get("reason"), idempotency_key=form.get("idempotency_key")
        ),
        name,
        version=stored.version,
        procedure=form.get("procedure") or "run",
        params=params,
        chain=form.checked("chain"),
    )


async def refused_start(
    console: Console,
    scope: Scope,
    name: str,
    form: Form,
    refusal: errors.InvalidDefinitionError,
) -> PlanPage:
    """Return the plan page again with what was sent and why it was refused."""
    page = await plan_page(console, scope.workspace, name, _form_version(form))
    sent = {key: form.get(f"param.{key}") for key in page.plan.params}
    on_fields = [
        p
        for p in refusal.problems
        if p.path.startswith("params.")
        and p.path.removeprefix("params.") in page.plan.params
    ]
    return replace(
        page,
        fields=param_fields(page.plan, sent, on_fields),
        problems=tuple(p for p in refusal.problems if p not in on_fields),
        procedure=form.get("procedure"),
        chain=form.checked("chain"),
    )


def _form_version(form: Form) -> int | None:
    version = form.get("version")
    return int(version) if version.isdigit() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceLine:
    """One line of a plan text, with the problems found on it."""

    number: int
    text: str
    problems: tuple[LocatedProblem, ...]


def annotate(
    text: str, problems: Sequence[LocatedProblem], *, context: int = 2
) -> tuple[SourceLine, ...]:
    """Return the lines around each problem's line, each with its problems."""
    lines = text.splitlines()
    at: dict[int, list[LocatedProblem]] = {}
    for problem in problems:
        if problem.line is not None and 1 <= problem.line <= len(lines):
            at.setdefault(problem.line, []).append(problem)
    shown = sorted(
        {
            number
            for line in at
            for number in range(line - context, line + context + 1)
            if 1 <= number <= len(lines)
        }
    )
    return tuple(
        SourceLine(number=n, text=lines[n - 1], problems=tuple(at.get(n, ())))
        for n in shown
    )
