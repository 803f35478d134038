"""
Tests of rendering step inputs with the sandboxed Jinja2 environment.
"""

from __future__ import annotations

from typing import Any

import pytest

from onward.actions import TemplateRenderError, render_inputs
from onward.errors import ActionError

CONTEXT: dict[str, Any] = {
    "run": {"id": "run_1", "params": {"restore_point": "2026-01-01T00:00"}},
    "plan": {"name": "web-tier-dr", "version": 3},
    "group": {"name": "databases"},
    "target": {"name": "db1", "vars": {"ip": "10.0.0.5", "port": 5432}},
    "steps": {"stop replication": {"output": {"exit_code": 0, "stdout": "ok\n"}}},
    "attempt": {"number": 2},
}


def test_render_inputs_renders_strings_through_nested_mappings_and_lists() -> None:
    """Every string is rendered, however deep it sits in mappings and lists."""
    inputs = {
        "command": "ssh {{ target.vars.ip }} systemctl stop repl",
        "headers": {"X-Run": "{{ run.id }}/{{ attempt.number }}"},
        "args": ["{{ plan.name }}", ["{{ group.name }}"]],
    }

    rendered = render_inputs(inputs, CONTEXT)

    assert rendered == {
        "command": "ssh 10.0.0.5 systemctl stop repl",
        "headers": {"X-Run": "run_1/2"},
        "args": ["web-tier-dr", ["databases"]],
    }


def test_render_inputs_sees_earlier_steps_outputs() -> None:
    """A template reads an earlier step's output by the step's name."""
    inputs = {"code": '{{ steps["stop replication"].output.exit_code }}'}

    assert render_inputs(inputs, CONTEXT) == {"code": "0"}


def test_render_inputs_keeps_values_that_are_not_templates() -> None:
    """Numbers, booleans, None and plain strings come back unchanged."""
    plain = "no template {here}"
    inputs = {"port": 8080, "verify": False, "body": None, "text": plain}

    rendered = render_inputs(inputs, CONTEXT)

    assert rendered == inputs
    assert rendered["text"] is plain


def test_render_inputs_renders_statements_too() -> None:
    """A string with only a ``{%`` statement is a template as well."""
    inputs = {"list": "{% for n in [1, 2] %}{{ n }},{% endfor %}"}

    assert render_inputs(inputs, CONTEXT) == {"list": "1,2,"}


def test_an_undefined_attribute_names_the_input_path_and_the_reason() -> None:
    """A missing attribute fails with the input's path and Jinja2's reason."""
    inputs = {"headers": {"Authorization": "Bearer {{ target.ip }}"}}

    with pytest.raises(TemplateRenderError) as caught:
        render_inputs(inputs, CONTEXT)

    assert caught.value.path == "with.headers.Authorization"
    assert caught.value.reason == "'dict object' has no attribute 'ip'"
    assert "with.headers.Authorization" in str(caught.value)


def test_an_undefined_name_in_a_list_names_its_index() -> None:
    """A failing item of a list is located by its index."""
    inputs = {"args": ["ok", "{{ nothing }}"]}

    with pytest.raises(TemplateRenderError) as caught:
        render_inputs(inputs, CONTEXT)

    assert caught.value.path == "with.args[1]"
    assert caught.value.reason == "'nothing' is undefined"


def test_a_syntax_error_is_a_template_error_naming_the_line() -> None:
    """A template that does not parse fails with its line number."""
    with pytest.raises(TemplateRenderError) as caught:
        render_inputs({"url": "http://{{ target.vars.ip "}, CONTEXT)

    assert caught.value.path == "with.url"
    assert caught.value.reason.startswith("syntax error on line 1:")


def test_the_sandbox_refuses_unsafe_attributes() -> None:
    """Reaching Python internals from a template is refused."""
    with pytest.raises(TemplateRenderError) as caught:
        render_inputs({"command": "{{ ''.__class__.__mro__ }}"}, CONTEXT)

    assert "unsafe" in caught.value.reason


def test_the_sandbox_refuses_changing_the_context() -> None:
    """Templates cannot modify what they read, such as a target's variables."""
    with pytest.raises(TemplateRenderError) as caught:
        render_inputs({"x": "{{ target.vars.update({'ip': 'evil'}) }}"}, CONTEXT)

    assert "unsafe" in caught.value.reason
    assert CONTEXT["target"]["vars"]["ip"] == "10.0.0.5"


def test_a_python_error_inside_an_expression_is_a_template_error() -> None:
    """An expression failing as Python would (division by zero) is a template error."""
    with pytest.raises(TemplateRenderError) as caught:
        render_inputs({"seconds": "{{ 1 / 0 }}"}, CONTEXT)

    assert caught.value.reason == "ZeroDivisionError: division by zero"


def test_template_render_error_is_an_action_error() -> None:
    """The error belongs to the ActionError branch of the exception tree."""
    error = TemplateRenderError(path="with.url", reason="boom")

    assert isinstance(error, ActionError)
    assert error.message == "Cannot render with.url: boom"
