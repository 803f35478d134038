"""
Tests of the action catalog: entry points, extra actions and broken plugins.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint
from typing import Any, ClassVar

import pytest

from onward.actions import Action, ActionCatalog, ActionContext, ActionResult
from onward.actions.shell import ShellAction
from onward.errors import ActionNotFoundError, Problem

BUILT_INS = frozenset({"shell", "http", "python", "sleep", "noop", "approval"})


class _EchoAction:
    """A plugin-like action that outputs its inputs."""

    kind: ClassVar[str] = "echo"

    def check(self, inputs: Mapping[str, Any]) -> list[Problem]:
        return [Problem(path=name, message="checked") for name in inputs]

    async def run(self, inputs: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        return ActionResult.succeeded(inputs)


class _QuietShellAction(ShellAction):
    """A replacement for the built-in shell action."""


def _entry_point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group="onward.actions")


def test_the_built_in_actions_are_found_through_entry_points() -> None:
    """Every built-in kind is installed, each instance conforming to Action."""
    catalog = ActionCatalog()

    assert catalog.kinds() >= BUILT_INS
    assert all(isinstance(catalog.get(kind), Action) for kind in BUILT_INS)
    assert all(catalog.get(kind).kind == kind for kind in BUILT_INS)
    assert catalog.failures == {}


def test_extra_actions_are_added_and_win_over_entry_points() -> None:
    """Actions given to the constructor join the catalog and replace a same kind."""
    quiet = _QuietShellAction()

    catalog = ActionCatalog([_EchoAction(), quiet])

    assert "echo" in catalog.kinds()
    assert catalog.get("shell") is quiet


def test_a_catalog_may_hold_only_the_given_actions() -> None:
    """With no entry points, only the given actions are known."""
    catalog = ActionCatalog([_EchoAction()], entry_points=())

    assert catalog.kinds() == frozenset({"echo"})


def test_get_of_an_unknown_kind_raises_action_not_found() -> None:
    """Asking for a kind nobody installed is a NotFoundError naming it."""
    catalog = ActionCatalog(entry_points=())

    with pytest.raises(ActionNotFoundError) as caught:
        catalog.get("terraform")

    assert caught.value.action == "terraform"


def test_check_delegates_to_the_action_of_the_kind() -> None:
    """The action's own problems come back unchanged."""
    catalog = ActionCatalog([_EchoAction()], entry_points=())

    assert catalog.check("echo", {"a": 1}) == [Problem(path="a", message="checked")]


def test_check_of_an_unknown_kind_is_one_problem_listing_the_installed_kinds() -> None:
    """A step using an unknown kind gets a problem naming the kinds available."""
    catalog = ActionCatalog([_EchoAction()], entry_points=())

    problems = catalog.check("terraform", {})

    assert problems == [
        Problem(path="", message="unknown action 'terraform'; installed actions: echo")
    ]


@pytest.mark.parametrize(
    ("entry_point", "reason"),
    [
        pytest.param(
            _entry_point("ghost", "onward_missing_plugin:GhostAction"),
            "ModuleNotFoundError: No module named 'onward_missing_plugin'",
            id="import-fails",
        ),
        pytest.param(
            _entry_point("dumps", "json:dumps"),
            "TypeError: json:dumps is not an action (it needs kind, check and run)",
            id="not-an-action",
        ),
        pytest.param(
            _entry_point("bash", "onward.actions.shell:ShellAction"),
            "TypeError: onward.actions.shell:ShellAction has kind 'shell', not 'bash'",
            id="kind-mismatch",
        ),
    ],
)
def test_a_broken_plugin_is_recorded_and_reported_where_used(
    entry_point: EntryPoint, reason: str
) -> None:
    """A plugin that cannot be loaded leaves the catalog working and explains itself."""
    good = _entry_point("noop", "onward.actions.noop:NoopAction")

    catalog = ActionCatalog(entry_points=[entry_point, good])
    problems = catalog.check(entry_point.name, {})

    assert catalog.kinds() == frozenset({"noop"})
    assert catalog.failures == {entry_point.name: reason}
    assert problems == [
        Problem(
            path="",
            message=f"the {entry_point.name!r} action is installed but cannot be "
            f"loaded: {reason}",
        )
    ]
    with pytest.raises(ActionNotFoundError):
        catalog.get(entry_point.name)
