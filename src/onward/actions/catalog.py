"""
The catalog of installed actions: built-ins and plugins, found through entry points.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Mapping
from typing import Any, Final

from onward.actions.base import Action
from onward.errors import ActionNotFoundError, Problem

#: the entry-point group actions register in, built-ins included
ENTRY_POINT_GROUP: Final = "onward.actions"

# What importing a broken plugin may raise. A plugin is third-party code, but a
# broken one must not take the catalog (and with it every plan) down.
_LOAD_ERRORS: Final = (
    ImportError,
    AttributeError,
    SyntaxError,
    NameError,
    TypeError,
    ValueError,
    LookupError,
    OSError,
    RuntimeError,
)


def _load(entry_point: importlib.metadata.EntryPoint) -> Action:
    """Import the entry point's class and make its action."""
    loaded: Any = entry_point.load()
    action = loaded() if isinstance(loaded, type) else loaded
    if not isinstance(action, Action):
        msg = f"{entry_point.value} is not an action (it needs kind, check and run)"
        raise TypeError(msg)
    if action.kind != entry_point.name:
        msg = f"{entry_point.value} has kind {action.kind!r}, not {entry_point.name!r}"
        raise TypeError(msg)
    return action


class ActionCatalog:
    """
    The actions steps may use, by kind.

    Built-ins register through the ``onward.actions`` entry points of this
    package, plugins through their own. A plugin that cannot be loaded does not
    break the catalog: the failure is kept and reported by :meth:`check` for
    every step using that kind.

    Args:
        actions: extra actions (tests, embedded plugins); they take precedence
            over entry points of the same kind.
        entry_points: the entry points to load; by default those installed in
            the ``onward.actions`` group. Pass ``()`` for a catalog of
            ``actions`` only.
    """

    def __init__(
        self,
        actions: Iterable[Action] = (),
        *,
        entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
    ) -> None:
        if entry_points is None:
            entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        self._actions: dict[str, Action] = {}
        self._failures: dict[str, Exception] = {}
        for entry_point in entry_points:
            try:
                self._actions[entry_point.name] = _load(entry_point)
            except _LOAD_ERRORS as exc:
                self._failures[entry_point.name] = exc
        for action in actions:
            self._actions[action.kind] = action
            self._failures.pop(action.kind, None)

    def kinds(self) -> frozenset[str]:
        """Return the kinds that can be used (broken plugins excluded)."""
        return frozenset(self._actions)

    @property
    def failures(self) -> Mapping[str, str]:
        """Return, by kind, why each broken plugin could not be loaded."""
        return {kind: _reason(exc) for kind, exc in self._failures.items()}

    def get(self, kind: str) -> Action:
        """
        Return the action of ``kind``.

        Raises:
            ActionNotFoundError: no usable action of that kind is installed
                (chained to the load error of a broken plugin).
        """
        try:
            return self._actions[kind]
        except KeyError:
            raise ActionNotFoundError(action=kind) from self._failures.get(kind)

    def check(self, kind: str, inputs: Mapping[str, Any]) -> list[Problem]:
        """
        Check a step's inputs with the action of ``kind``.

        Returns:
            The action's problems, paths relative to the step's ``with``; for
            an unknown or broken kind, one problem with an empty path (it is
            about the step's ``action``, not its inputs).
        """
        action = self._actions.get(kind)
        if action is not None:
            return action.check(inputs)
        if kind in self._failures:
            reason = _reason(self._failures[kind])
            message = f"the {kind!r} action is installed but cannot be loaded: {reason}"
        else:
            known = ", ".join(sorted(self._actions))
            message = f"unknown action {kind!r}; installed actions: {known}"
        return [Problem(path="", message=message)]


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"
