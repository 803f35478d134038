"""
Value parsing for plan validation: durations and typed run-parameter values.

Private to ``onward.domain.plan_schema``; these functions raise ``ValueError``
with a message fit for an operator, which the callers turn into problems.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, NoReturn

from onward.domain.plans import ParamType

_MICROSECONDS: Final = {
    "d": 86_400_000_000,
    "h": 3_600_000_000,
    "m": 60_000_000,
    "s": 1_000_000,
    "ms": 1_000,
}
_DURATION_PART: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)")
_PLAIN_NUMBER: Final = re.compile(r"\d+(?:\.\d+)?")
_INTEGER_TEXT: Final = re.compile(r"[+-]?\d+")
_TRUE_WORDS: Final = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS: Final = frozenset({"false", "no", "off", "0"})


def type_name(value: object) -> str:
    """Return the plan-language name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


def expected(what: str, value: object) -> str:
    """Return the message for a value of the wrong type."""
    return f"expected {what}, got {type_name(value)}"


def reject(what: str, value: object) -> NoReturn:
    """
    Raise the ValueError for a value of the wrong type.

    Raises:
        ValueError: always, saying what was expected and what was given.
    """
    raise ValueError(expected(what, value))


# -- durations ---------------------------------------------------------------


def parse_duration(value: object) -> timedelta:
    """
    Turn a duration as written in a plan into a timedelta.

    Numbers (and strings holding only a number) are seconds. Strings are one or
    more ``<number><unit>`` parts, units from largest to smallest, each used once:
    ``d``, ``h``, ``m``, ``s``, ``ms`` - for example ``500ms``, ``10s``, ``1h30m``,
    ``1.5h``.

    Args:
        value: the value from the plan document.

    Returns:
        The duration, never negative.

    Raises:
        ValueError: when the value is not a duration; the message says why.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        reject("a duration such as '30s' or '5m'", value)
    if isinstance(value, str):
        micros = _duration_text_microseconds(value)
    else:
        micros = _number_microseconds(value)
    try:
        return timedelta(microseconds=micros)
    except OverflowError as exc:
        msg = f"duration {value!r} is too large"
        raise ValueError(msg) from exc


def _number_microseconds(seconds: float) -> int:
    if not math.isfinite(seconds):
        msg = f"duration must be a finite number of seconds, got {seconds!r}"
        raise ValueError(msg)
    if seconds < 0:
        msg = f"duration must not be negative, got {seconds!r}"
        raise ValueError(msg)
    return round(Decimal(repr(seconds)) * _MICROSECONDS["s"])


def _duration_text_microseconds(text: str) -> int:
    stripped = text.strip()
    if stripped.startswith("-"):
        msg = f"duration must not be negative, got {text!r}"
        raise ValueError(msg)
    if _PLAIN_NUMBER.fullmatch(stripped):
        return round(Decimal(stripped) * _MICROSECONDS["s"])
    position, total = 0, Decimal(0)
    units_seen: list[str] = []
    while position < len(stripped):
        match = _DURATION_PART.match(stripped, position)
        if match is None:
            msg = (
                f"invalid duration {text!r}: use a number of seconds or parts like "
                "'500ms', '10s', '5m', '2h', '1d', '1h30m'"
            )
            raise ValueError(msg)
        number, unit = match.groups()
        _check_unit_order(text, unit, units_seen)
        units_seen.append(unit)
        total += Decimal(number) * _MICROSECONDS[unit]
        position = match.end()
    if not units_seen:
        msg = f"invalid duration {text!r}: expected a value such as '30s' or '5m'"
        raise ValueError(msg)
    return round(total)


def _check_unit_order(text: str, unit: str, units_seen: list[str]) -> None:
    order = list(_MICROSECONDS)
    if units_seen and order.index(unit) <= order.index(units_seen[-1]):
        msg = (
            f"invalid duration {text!r}: units must go from largest to smallest "
            "and appear once each (d, h, m, s, ms)"
        )
        raise ValueError(msg)


def format_duration(delta: timedelta) -> str:
    """
    Write a duration the way a plan would, e.g. ``1h30m`` or ``500ms``.

    ``parse_duration(format_duration(d)) == d`` for every non-negative ``d``.

    Args:
        delta: a non-negative duration.

    Returns:
        The shortest plan spelling, ``0s`` for zero.
    """
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    parts: list[str] = []
    for unit in ("d", "h", "m"):
        count, micros = divmod(micros, _MICROSECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    seconds, micros = divmod(micros, _MICROSECONDS["s"])
    if micros % 1_000 == 0 and micros:
        parts.extend([f"{seconds}s"] if seconds else [])
        parts.append(f"{micros // 1_000}ms")
    elif micros:
        parts.append(f"{seconds}.{micros:06d}".rstrip("0") + "s")
    elif seconds or not parts:
        parts.append(f"{seconds}s")
    return "".join(parts)


# -- typed parameter values --------------------------------------------------


def param_value(value: Any, kind: ParamType) -> Any:
    """
    Check a parameter value of the given type and return its JSON-safe form.

    Datetimes may be ``datetime`` objects or ISO-8601 strings; one without a time
    zone is taken as UTC; the result is an ISO-8601 string. Integral floats are
    accepted as integers.

    Raises:
        ValueError: when the value does not fit the type; the message says why.
    """
    if kind is ParamType.DATETIME:
        return _datetime_value(value)
    if kind is ParamType.BOOLEAN and isinstance(value, bool):
        return value
    if kind is ParamType.STRING and isinstance(value, str):
        return value
    if isinstance(value, bool):
        reject(f"a value of type {kind.value}", value)
    if kind is ParamType.INTEGER:
        return _integer_value(value)
    if kind is ParamType.NUMBER and isinstance(value, int | float):
        if not math.isfinite(value):
            msg = f"expected a finite number, got {value!r}"
            raise ValueError(msg)
        return value
    reject(f"a value of type {kind.value}", value)


def _integer_value(value: Any) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    reject("an integer", value)


def _datetime_value(value: Any) -> str:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            msg = f"expected an ISO-8601 date and time, got {value!r}"
            raise ValueError(msg) from exc
    else:
        reject("an ISO-8601 date and time", value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def param_from_text(text: str, kind: ParamType) -> Any:
    """
    Parse a parameter given as text (``--param name=value``) per its type.

    Booleans accept true/false, yes/no, on/off and 1/0 in any case; numbers are
    decimal; datetimes are ISO-8601 as in :func:`param_value`.

    Raises:
        ValueError: when the text does not spell a value of the type.
    """
    word = text.strip()
    if kind is ParamType.BOOLEAN:
        return _boolean_text(word)
    if kind is ParamType.INTEGER:
        if not _INTEGER_TEXT.fullmatch(word):
            msg = f"expected an integer, got {text!r}"
            raise ValueError(msg)
        return int(word)
    if kind is ParamType.NUMBER:
        return _number_text(text, word)
    if kind is ParamType.DATETIME:
        return _datetime_value(word)
    return text


def _boolean_text(word: str) -> bool:
    if word.lower() in _TRUE_WORDS:
        return True
    if word.lower() in _FALSE_WORDS:
        return False
    msg = f"expected true or false, got {word!r}"
    raise ValueError(msg)


def _number_text(text: str, word: str) -> int | float:
    if _INTEGER_TEXT.fullmatch(word):
        return int(word)
    try:
        number = float(word)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        msg = f"expected a number, got {text!r}"
        raise ValueError(msg)
    return number
