"""
Tests of the python action, calling real functions of the standard library.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from onward.actions import ActionContext
from onward.actions.python import PythonAction
from onward.worker.runner import run_action

SHORT = timedelta(seconds=2)


async def test_a_function_is_called_with_its_keyword_arguments(
    ctx: ActionContext,
) -> None:
    """A plain function runs with kwargs and its return value is the output."""
    inputs = {"function": "json:dumps", "kwargs": {"obj": [1, 2], "indent": None}}

    result = await PythonAction().run(inputs, ctx)

    assert result.ok
    assert result.output == {"result": "[1, 2]"}


async def test_a_coroutine_function_is_awaited(ctx: ActionContext) -> None:
    """An async function is awaited and its result recorded."""
    inputs = {"function": "asyncio:sleep", "kwargs": {"delay": 0, "result": "done"}}

    result = await PythonAction().run(inputs, ctx)

    assert result.output == {"result": "done"}


async def test_a_class_attribute_path_is_followed(ctx: ActionContext) -> None:
    """``module:Class.method`` names a method through its class."""
    inputs = {"function": "fractions:Fraction.from_float", "kwargs": {"f": 0.25}}

    result = await PythonAction().run(inputs, ctx)

    assert result.output == {"result": "Fraction(1, 4)"}


async def test_results_become_plain_json_data(ctx: ActionContext) -> None:
    """A tuple result is recorded as a list, as JSON would store it."""
    inputs = {"function": "os.path:splitext", "kwargs": {"p": "backup.tar"}}

    result = await PythonAction().run(inputs, ctx)

    assert result.output == {"result": ["backup", ".tar"]}


async def test_a_result_that_is_not_json_is_recorded_as_its_repr(
    ctx: ActionContext,
) -> None:
    """A value JSON cannot hold is kept as its repr."""
    inputs = {"function": "decimal:Decimal", "kwargs": {"value": "1.5"}}

    result = await PythonAction().run(inputs, ctx)

    assert result.output == {"result": "Decimal('1.5')"}


@pytest.mark.parametrize(
    ("function", "error"),
    [
        pytest.param(
            "onward_missing_module:run",
            "cannot use onward_missing_module:run: ModuleNotFoundError: "
            "No module named 'onward_missing_module'",
            id="missing-module",
        ),
        pytest.param(
            "json:no_such_function",
            "cannot use json:no_such_function: AttributeError: "
            "module 'json' has no attribute 'no_such_function'",
            id="missing-function",
        ),
        pytest.param(
            "math:pi",
            "cannot use math:pi: TypeError: math:pi is a float, not a function",
            id="not-callable",
        ),
    ],
)
async def test_a_function_that_cannot_be_found_is_not_retryable(
    ctx: ActionContext, function: str, error: str
) -> None:
    """Import and lookup failures are failures retrying cannot fix."""
    result = await PythonAction().run({"function": function}, ctx)

    assert not result.ok
    assert not result.retryable
    assert result.error == error


async def test_an_exception_from_the_function_is_recorded_by_the_runner(
    ctx: ActionContext,
) -> None:
    """The function's own exception becomes ``TypeName: message``."""
    inputs = {"function": "json:loads", "kwargs": {"s": "{not json"}}

    result = await run_action(
        PythonAction(), inputs, ctx, timeout=SHORT, cancel=asyncio.Event()
    )

    assert not result.ok
    assert result.error == (
        "JSONDecodeError: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)"
    )


async def test_a_coroutine_function_is_cancelled_with_the_step(
    ctx: ActionContext,
) -> None:
    """Cancelling the step cancels an async function at its await."""
    inputs = {"function": "asyncio:sleep", "kwargs": {"delay": 60}}
    cancel = asyncio.Event()
    cancel.set()

    result = await run_action(PythonAction(), inputs, ctx, timeout=SHORT, cancel=cancel)

    assert result.cancelled


def test_check_accepts_references_kwargs_and_templates() -> None:
    """Well-formed references and kwargs, or templates for them, pass."""
    action = PythonAction()

    assert action.check({"function": "package.module:Class.method"}) == []
    assert (
        action.check({"function": "m:f", "kwargs": {"host": "{{ target.name }}"}}) == []
    )
    assert action.check({"function": "{{ run.params.fn }}", "kwargs": "{{ x }}"}) == []


def test_check_reports_a_malformed_reference_and_bad_kwargs() -> None:
    """A reference without ``module:function`` and non-mapping kwargs are problems."""
    problems = PythonAction().check({"function": "json.dumps", "kwargs": [1]})

    assert [(problem.path, problem.message) for problem in problems] == [
        ("function", "must look like 'package.module:function', not 'json.dumps'"),
        ("kwargs", "must be a mapping of names"),
    ]


def test_check_requires_a_function() -> None:
    """The function input is required."""
    problems = PythonAction().check({})

    assert [(problem.path, problem.message) for problem in problems] == [
        ("function", "is required")
    ]
