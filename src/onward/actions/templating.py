"""
Rendering of steps' inputs with the sandboxed Jinja2 environment.

The context a step's templates see:

``run``
    ``{"id": ..., "params": {...}}``: the run and its parameters.
``plan``
    ``{"name": ..., "version": ...}``.
``group``
    ``{"name": ...}``: the step's group (``before``/``after`` for plan-level steps).
``target``
    ``{"name": ..., "vars": {...}}``: the target the step acts on.
``steps``
    step name -> ``{"output": {...}}``: what earlier steps of this target produced.
``attempt``
    ``{"number": ...}``: 1 for the first try.

Templates run in an immutable sandbox with strict undefined values: a missing
key, a syntax error or an unsafe operation is a :class:`TemplateRenderError`,
which the step records as a failure that retrying cannot fix.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from onward.errors import ActionError

_ENVIRONMENT: Final = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False
)

# A template expression may fail in ordinary Python ways too ({{ 1 / 0 }},
# {{ "a" + 1 }}, {{ "x".index("y") }}): those are template errors as well.
_RENDER_ERRORS: Final = (
    jinja2.TemplateError,
    ArithmeticError,
    LookupError,
    TypeError,
    ValueError,
)


class TemplateRenderError(ActionError):
    """A step input could not be rendered."""

    def __init__(self, *, path: str, reason: str) -> None:
        #: the input's path, e.g. ``with.headers.Authorization``
        self.path = path
        #: what Jinja2 said, e.g. ``'dict object' has no attribute 'ip'``
        self.reason = reason
        super().__init__(f"Cannot render {path}: {reason}")


@functools.lru_cache(maxsize=4096)
def _compile(source: str) -> jinja2.Template:
    return _ENVIRONMENT.from_string(source)


def _describe(exc: Exception) -> str:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"syntax error on line {exc.lineno}: {exc.message}"
    if isinstance(exc, jinja2.TemplateError):
        return exc.message or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def render_string(source: str, context: Mapping[str, Any], *, path: str) -> str:
    """
    Render one template string.

    Args:
        source: the template; returned untouched when it holds no ``{{`` or ``{%``.
        context: the names the template may use (see the module docstring).
        path: where the string sits, for the error message (``with.url``).

    Returns:
        The rendered text.

    Raises:
        TemplateRenderError: the template is invalid, uses an undefined name or
            does something the sandbox forbids.
    """
    if "{{" not in source and "{%" not in source:
        return source
    try:
        return _compile(source).render(context)
    except _RENDER_ERRORS as exc:
        raise TemplateRenderError(path=path, reason=_describe(exc)) from exc


def _render_value(value: Any, context: Mapping[str, Any], path: str) -> Any:
    if isinstance(value, str):
        return render_string(value, context, path=path)
    if isinstance(value, Mapping):
        return {
            key: _render_value(item, context, f"{path}.{key}")
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [
            _render_value(item, context, f"{path}[{index}]")
            for index, item in enumerate(value)
        ]
    return value


def render_inputs(
    inputs: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """
    Render every string of a step's inputs, through nested mappings and lists.

    Keys are not rendered; values that are not strings are kept as they are
    (lists and tuples become lists). A rendered template is always a string:
    actions convert ``"8080"`` to the number they expect.

    Args:
        inputs: the step's ``with`` mapping.
        context: the names templates may use (see the module docstring).

    Returns:
        A new mapping with every template rendered.

    Raises:
        TemplateRenderError: naming the first input that could not be rendered
            (``with.headers.Authorization``) and why.
    """
    return {
        key: _render_value(value, context, f"with.{key}")
        for key, value in inputs.items()
    }
