"""
What an action produces, made JSON data of text every store holds alike.

An action's output and error enter Onward through the attempt runner's report,
and pass through here on the way in:

* Text: NUL and lone surrogates become U+FFFD (:func:`onward.text.storable_text`).
  The stores do the same to whatever they are given, log lines included; doing
  it here too keeps the run's state in the engine's memory as it is stored.
* The output becomes JSON data, as the stores keep it: non-string keys are
  written as JSON writes them, tuples become lists, and a value JSON cannot
  hold (a set, a datetime, NaN or an infinity) becomes its ``repr``, as the
  ``python`` action records its return value. Otherwise the memory store
  would keep it, SQLite refuse a set and keep NaN, PostgreSQL refuse both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from onward.text import storable_text


def storable_output(output: Mapping[str, Any]) -> dict[str, Any]:
    """Return an action's output as JSON data of storable text (see the module)."""
    return {_storable_key(key): storable_value(value) for key, value in output.items()}


def storable_value(value: Any) -> Any:
    """Return a value of an output as JSON data of storable text."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {_storable_key(key): storable_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_value(item) for item in value]
    return storable_text(repr(value))


def _storable_key(key: object) -> str:
    """Return a mapping's key as the string JSON makes of it."""
    if isinstance(key, str):
        return storable_text(key)
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    return storable_text(repr(key))
