"""
Reading and checking actions' inputs, the same way at plan validation and at run time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Final

from onward.actions.base import ActionResult
from onward.errors import Problem

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_TRUE: Final = frozenset({"true", "yes", "on", "1"})
_FALSE: Final = frozenset({"false", "no", "off", "0"})


def is_template(value: object) -> bool:
    """Tell whether ``value`` is a string Jinja2 would render."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def invalid_inputs(problems: Iterable[Problem]) -> ActionResult:
    """Return the failed, non-retryable result of a try whose inputs are invalid."""
    details = "; ".join(f"with.{problem}" for problem in problems)
    return ActionResult.failed(f"invalid inputs: {details}", retryable=False)


def _as_integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_seconds(value: object) -> float | None:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return float(match[1]) * _UNIT_SECONDS[match[2]]
    return None


def _as_boolean(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    return None


def _as_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


class InputReader:
    """
    Reads an action's inputs by name, collecting every problem found.

    With ``rendered=False`` (plan validation) a template string is accepted
    wherever a value is expected and the default stands in for it. With
    ``rendered=True`` (run time) strings are converted to the expected type,
    since a rendered template is always a string.
    """

    def __init__(self, inputs: Mapping[str, Any], *, rendered: bool) -> None:
        self._inputs = inputs
        self._rendered = rendered
        self._known: list[str] = []
        #: every problem found so far, paths relative to ``with``
        self.problems: list[Problem] = []

    def _get(self, name: str, *, required: bool = False) -> Any:
        self._known.append(name)
        value = self._inputs.get(name)
        if value is None and required:
            self.problems.append(Problem(path=name, message="is required"))
        return value

    def _deferred(self, value: object) -> bool:
        return not self._rendered and is_template(value)

    def _invalid(self, path: str, message: str) -> None:
        self.problems.append(Problem(path=path, message=message))

    def raw(self, name: str, *, required: bool = False) -> Any:
        """Return the input as given (None when absent)."""
        return self._get(name, required=required)

    def string(self, name: str, *, required: bool = False) -> str | None:
        """Return a string input, None when absent."""
        value = self._get(name, required=required)
        if value == "" and required:
            self._invalid(name, "must not be empty")
        if value is None or isinstance(value, str):
            return value
        self._invalid(name, "must be a string")
        return None

    def integer(self, name: str, *, default: int, minimum: int | None = None) -> int:
        """Return an integer input, ``default`` when absent."""
        value = self._get(name)
        if value is None or self._deferred(value):
            return default
        number = _as_integer(value)
        if number is None:
            self._invalid(name, f"must be an integer, not {value!r}")
            return default
        if minimum is not None and number < minimum:
            self._invalid(name, f"must be at least {minimum}, not {number}")
            return default
        return number

    def _seconds(self, name: str, *, required: bool) -> float | None:
        value = self._get(name, required=required)
        if value is None or self._deferred(value):
            return None
        seconds = _as_seconds(value)
        if seconds is None or seconds < 0:
            self._invalid(
                name, f"must be a duration of 0 or more seconds, not {value!r}"
            )
            return None
        return seconds

    def seconds(self, name: str, *, default: float, required: bool = False) -> float:
        """
        Return a duration in seconds, ``default`` when absent.

        A duration is a number of seconds or a string such as ``500ms``,
        ``30s``, ``5m`` or ``1h``.
        """
        seconds = self._seconds(name, required=required)
        return default if seconds is None else seconds

    def optional_seconds(self, name: str) -> float | None:
        """Return a duration in seconds (see :meth:`seconds`), None when absent."""
        return self._seconds(name, required=False)

    def boolean(self, name: str, *, default: bool) -> bool:
        """Return a boolean input, ``default`` when absent."""
        value = self._get(name)
        if value is None or self._deferred(value):
            return default
        flag = _as_boolean(value)
        if flag is None:
            self._invalid(name, f"must be true or false, not {value!r}")
            return default
        return flag

    def integers(self, name: str) -> tuple[int, ...] | None:
        """Return an integer or a list of integers as a tuple, None when absent."""
        value = self._get(name)
        if value is None or self._deferred(value):
            return None
        if isinstance(value, str):
            value = value.strip().strip("[]").replace(",", " ").split()
        items = value if isinstance(value, list | tuple) else [value]
        numbers = [_as_integer(item) for item in items]
        if not items or any(number is None for number in numbers):
            self._invalid(
                name, f"must be an integer or a list of integers, not {value!r}"
            )
            return None
        return tuple(number for number in numbers if number is not None)

    def strings(self, name: str) -> tuple[str, ...]:
        """Return a list of strings as a tuple, empty when absent."""
        value = self._get(name)
        if value is None or self._deferred(value):
            return ()
        if not isinstance(value, list | tuple) or not all(
            isinstance(item, str) for item in value
        ):
            self._invalid(name, "must be a list of strings")
            return ()
        return tuple(value)

    def string_map(self, name: str) -> dict[str, str]:
        """Return a mapping of names to strings (numbers and booleans converted)."""
        value = self._get(name)
        if value is None or self._deferred(value):
            return {}
        if not isinstance(value, Mapping):
            self._invalid(name, "must be a mapping of names to strings")
            return {}
        result: dict[str, str] = {}
        for key, item in value.items():
            text = _as_text(item)
            if not isinstance(key, str) or text is None:
                self._invalid(f"{name}.{key}", f"must be a string, not {item!r}")
            else:
                result[key] = text
        return result

    def reject_unknown(self) -> None:
        """Report every input that was not read as unknown."""
        for name in self._inputs:
            if name not in self._known:
                expected = ", ".join(self._known)
                self._invalid(str(name), f"unknown input; expected one of: {expected}")
