"""
Field readers for plan validation: typed reads that record problems by path.

Private to ``onward.domain.plan_schema``; every reader returns a usable fallback
value and records a :class:`~onward.errors.Problem` instead of raising, so that
one pass over a document finds every problem in it.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Any, Final, TypeVar

from onward.domain._schema_values import expected, parse_duration
from onward.errors import InvalidDefinitionError, Problem

_E = TypeVar("_E", bound=StrEnum)

#: plan names, queue names: what is safe in URLs, file names and queue routing
NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: longest group, target or step name
MAX_LABEL_LENGTH: Final = 200
#: deepest nesting accepted inside free-form values (``with``, ``vars``, defaults)
MAX_VALUE_DEPTH: Final = 32


class ProblemList:
    """The problems found so far in one document."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        """Record one problem at ``path``."""
        self.problems.append(Problem(path, message))

    def raise_if_any(self, *, subject: str) -> None:
        """
        Raise every recorded problem at once, if there is any.

        Raises:
            InvalidDefinitionError: when at least one problem was recorded.
        """
        if self.problems:
            raise InvalidDefinitionError(self.problems, subject=subject)


def key_path(base: str, key: object) -> str:
    """Return the path of ``key`` inside the mapping at ``base``."""
    return f"{base}.{key}" if base else str(key)


def item_path(base: str, index: int) -> str:
    """Return the path of item ``index`` of the list at ``base``."""
    return f"{base}[{index}]"


def suggestion(word: str, known: Collection[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest known word, or ``""``."""
    matches = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def one_of(known: Sequence[str]) -> str:
    """Return ``'a', 'b' or 'c'`` for messages; ``known`` has two words or more."""
    quoted = [repr(word) for word in known]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


# -- free-form values --------------------------------------------------------


def json_value(value: Any, path: str, problems: ProblemList, depth: int = 0) -> Any:
    """
    Return a plain copy of a free-form value, recording what JSON cannot hold.

    Free-form values (``with``, ``vars``, parameter defaults) are stored as JSON,
    so they may only be null, booleans, integers, finite numbers, strings, lists
    and mappings with string keys.
    """
    if depth > MAX_VALUE_DEPTH:
        problems.add(path, f"nested deeper than {MAX_VALUE_DEPTH} levels")
        return None
    if isinstance(value, Mapping):
        return _json_mapping(value, path, problems, depth)
    if isinstance(value, list | tuple):
        return [
            json_value(item, item_path(path, index), problems, depth + 1)
            for index, item in enumerate(value)
        ]
    if isinstance(value, float) and not math.isfinite(value):
        problems.add(path, f"expected a finite number, got {value!r}")
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    problems.add(path, expected("a JSON value", value))
    return None


def _json_mapping(
    value: Mapping[Any, Any], path: str, problems: ProblemList, depth: int
) -> dict[str, Any]:
    copy: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            problems.add(key_path(path, key), expected("a string key", key))
            continue
        copy[key] = json_value(item, key_path(path, key), problems, depth + 1)
    return copy


# -- readers -----------------------------------------------------------------


class MappingReader:
    """
    Reads the typed fields of one mapping of a document.

    Unknown keys are recorded when the reader is made; a key set to null counts
    as absent. Each read returns the fallback when the field is absent or wrong.
    """

    def __init__(
        self,
        data: Mapping[Any, Any],
        path: str,
        problems: ProblemList,
        *,
        allowed: Sequence[str],
    ) -> None:
        self.data = data
        self.path = path
        self.problems = problems
        for key in data:
            self._check_key(key, allowed)

    def _check_key(self, key: object, allowed: Sequence[str]) -> None:
        if not isinstance(key, str):
            self.problems.add(self.at(key), expected("a string key", key))
        elif key not in allowed:
            hint = suggestion(key, allowed)
            self.problems.add(self.at(key), f"unknown key {key!r}{hint}")

    def at(self, key: object) -> str:
        """Return the path of ``key`` in this mapping."""
        return key_path(self.path, key)

    def get(self, key: str) -> Any:
        """Return the raw value of ``key``, None when absent."""
        return self.data.get(key)

    def has(self, key: str) -> bool:
        """Tell whether ``key`` is present with a non-null value."""
        return self.data.get(key) is not None

    def missing(self, key: str) -> None:
        """Record that the required ``key`` is absent."""
        self.problems.add(self.at(key), f"missing required key {key!r}")

    def text(self, key: str, *, default: str = "") -> str:
        """Read a string."""
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.problems.add(self.at(key), expected("a string", value))
            return default
        return value

    def label(self, key: str, *, required: bool = True) -> str:
        """Read a non-blank name of at most ``MAX_LABEL_LENGTH`` characters."""
        value = self.get(key)
        if value is None:
            if required:
                self.missing(key)
            return ""
        if not isinstance(value, str):
            self.problems.add(self.at(key), expected("a string", value))
            return ""
        check_label(value, self.at(key), self.problems)
        return value

    def name(self, key: str, *, required: bool = False) -> str | None:
        """Read a name matching ``NAME_PATTERN`` (plan and queue names)."""
        value = self.get(key)
        if value is None:
            if required:
                self.missing(key)
            return None
        if not isinstance(value, str):
            self.problems.add(self.at(key), expected("a string", value))
            return None
        check_name(value, self.at(key), self.problems)
        return value

    def flag(self, key: str, *, default: bool) -> bool:
        """Read a boolean (true/false)."""
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problems.add(
                self.at(key), expected("a boolean (true or false)", value)
            )
            return default
        return value

    def integer(self, key: str, *, default: int, minimum: int) -> int:
        """Read an integer no smaller than ``minimum``."""
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problems.add(self.at(key), expected("an integer", value))
            return default
        if value < minimum:
            self.problems.add(self.at(key), f"must be at least {minimum}, got {value}")
            return default
        return value

    def number(self, key: str, *, default: float, minimum: float) -> float:
        """Read a finite number no smaller than ``minimum``."""
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problems.add(self.at(key), expected("a number", value))
            return default
        if not math.isfinite(value) or value < minimum:
            self.problems.add(self.at(key), f"must be at least {minimum}, got {value}")
            return default
        return float(value)

    def duration(self, key: str, *, positive: bool = False) -> timedelta | None:
        """Read a duration; ``positive`` rejects zero."""
        value = self.get(key)
        if value is None:
            return None
        try:
            delta = parse_duration(value)
        except ValueError as exc:
            self.problems.add(self.at(key), str(exc))
            return None
        if positive and not delta:
            self.problems.add(self.at(key), "must be longer than zero")
            return None
        return delta

    def choice(self, key: str, enum: type[_E], default: _E) -> _E:
        """Read one of an enumeration's values."""
        value = self.get(key)
        if value is None:
            return default
        known = [member.value for member in enum]
        if not isinstance(value, str):
            self.problems.add(self.at(key), expected(f"one of {one_of(known)}", value))
            return default
        if value not in known:
            hint = suggestion(value, known)
            message = f"must be one of {one_of(known)}, got {value!r}{hint}"
            self.problems.add(self.at(key), message)
            return default
        return enum(value)

    def mapping(self, key: str) -> Mapping[Any, Any] | None:
        """Read a mapping; None when absent or wrong."""
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.problems.add(self.at(key), expected("a mapping", value))
            return None
        return value

    def sequence(self, key: str, *, non_empty: bool = False) -> Sequence[Any]:
        """Read a list; empty when absent or wrong."""
        value = self.get(key)
        if value is None:
            if non_empty:
                self.missing(key)
            return ()
        if not isinstance(value, list | tuple):
            self.problems.add(self.at(key), expected("a list", value))
            return ()
        if non_empty and not value:
            self.problems.add(self.at(key), "must not be empty")
        return value


def is_value_of(value: object, enum: type[StrEnum]) -> bool:
    """Tell whether ``value`` is one of the enumeration's values."""
    return isinstance(value, str) and value in {member.value for member in enum}


def check_label(value: str, path: str, problems: ProblemList) -> None:
    """Record a problem when a group, target or step name is blank or too long."""
    if not value.strip():
        problems.add(path, "must not be blank")
    elif len(value) > MAX_LABEL_LENGTH:
        problems.add(path, f"must be at most {MAX_LABEL_LENGTH} characters long")


def check_name(value: str, path: str, problems: ProblemList) -> None:
    """Record a problem when a plan or queue name does not match ``NAME_PATTERN``."""
    if not NAME_PATTERN.fullmatch(value):
        problems.add(
            path,
            f"invalid name {value!r}: use 1 to 128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
        )


def check_unique(
    names: Sequence[tuple[str, str]], problems: ProblemList, noun: str
) -> None:
    """
    Record every name that repeats an earlier one.

    Args:
        names: (path of the name, name) pairs in document order.
        problems: where to record.
        noun: what the names are, e.g. ``step name``.
    """
    first: dict[str, str] = {}
    for path, name in names:
        if not name:
            continue
        if name in first:
            problems.add(path, f"duplicate {noun} {name!r} (first at {first[name]})")
        else:
            first[name] = path
