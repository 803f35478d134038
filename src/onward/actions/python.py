"""
The ``python`` action: calls a ``package.module:function`` with keyword arguments.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

from onward.actions._inputs import InputReader, invalid_inputs, is_template
from onward.actions.base import ActionContext, ActionResult
from onward.errors import Problem

_DOTTED: Final = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_REFERENCE: Final = re.compile(rf"^{_DOTTED}:{_DOTTED}$")


def _read(
    inputs: Mapping[str, Any], *, rendered: bool
) -> tuple[str, dict[str, Any], list[Problem]]:
    reader = InputReader(inputs, rendered=rendered)
    reference = reader.string("function", required=True) or ""
    kwargs = reader.raw("kwargs") or {}
    reader.reject_unknown()
    if not rendered and is_template(kwargs):
        kwargs = {}
    if reference and not is_template(reference) and not _REFERENCE.match(reference):
        message = f"must look like 'package.module:function', not {reference!r}"
        reader.problems.append(Problem(path="function", message=message))
    if not isinstance(kwargs, Mapping) or not all(
        isinstance(key, str) for key in kwargs
    ):
        reader.problems.append(
            Problem(path="kwargs", message="must be a mapping of names")
        )
        kwargs = {}
    return reference, dict(kwargs), reader.problems


def _look_up(reference: str) -> Callable[..., Any]:
    """Import ``module`` and follow the dotted attribute path after the colon."""
    module_name, _, attributes = reference.partition(":")
    found: Any = importlib.import_module(module_name)
    for attribute in attributes.split("."):
        found = getattr(found, attribute)
    if not callable(found):
        msg = f"{reference} is a {type(found).__name__}, not a function"
        raise TypeError(msg)
    return found  # type: ignore[no-any-return]


def _to_json(value: Any) -> Any:
    """Return ``value`` as plain JSON data, or its repr when it is not JSON data."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return repr(value)


async def _call(function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(function):
        return await function(**kwargs)
    result = await asyncio.to_thread(function, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result


class PythonAction:
    """
    Calls a Python function importable on the worker.

    Coroutine functions are awaited; other functions run in a thread, so they
    may block. Cancelling a step cancels a coroutine function at its next
    ``await``; a function running in a thread cannot be stopped and finishes
    in the background, its result ignored.

    Inputs:
        function: ``package.module:function`` (or ``module:Class.method``),
            required.
        kwargs: a mapping of keyword arguments (optional); values made by
            templates arrive as strings.

    Output: ``{"result": <the return value>}``; a value that is not
    JSON-serialisable is recorded as its ``repr``. An exception raised by the
    function is the step's failure (``TypeName: message``), recorded by the
    runner; a function that cannot be imported is a failure retrying cannot fix.
    """

    kind: ClassVar[str] = "python"

    def check(self, inputs: Mapping[str, Any]) -> list[Problem]:
        """Check the shape of ``function`` and ``kwargs`` (nothing is imported)."""
        return _read(inputs, rendered=False)[2]

    async def run(self, inputs: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        """Import the function, call it with ``kwargs`` and return its result."""
        reference, kwargs, problems = _read(inputs, rendered=True)
        if problems:
            return invalid_inputs(problems)
        try:
            function = _look_up(reference)
        except (ImportError, AttributeError, SyntaxError, TypeError) as exc:
            error = f"cannot use {reference}: {type(exc).__name__}: {exc}"
            return ActionResult.failed(error, retryable=False)
        ctx.log("info", f"calling {reference}")
        result = await _call(function, kwargs)
        return ActionResult.succeeded({"result": _to_json(result)})
