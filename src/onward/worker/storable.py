"""
What an action produces, made fit for every store: text and JSON data they all hold.

Action output enters Onward through the attempt runner only (log lines through
the log buffer, the output and the error through the report), and passes
through here on the way in, so that the memory store, SQLite and PostgreSQL
all hold the same thing:

* U+0000 becomes U+FFFD: PostgreSQL ``text`` cannot hold a NUL (and ``jsonb``
  refuses the ``\\u0000`` escape), while SQLite and the memory store keep it.
* A surrogate code point (a Python string may hold one, a decoded UTF-8 text
  never does) cannot be encoded to UTF-8 for any database: a lone one becomes
  U+FFFD; a high one followed by a low one is the character the pair spells.
* The output becomes JSON data, as the stores keep it: non-string keys are
  written as JSON writes them, tuples become lists, and a value JSON cannot
  hold (a set, a datetime, NaN or an infinity) becomes its ``repr``, as the
  ``python`` action records its return value. Otherwise the memory store
  would keep it, SQLite refuse a set and keep NaN, PostgreSQL refuse both.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final

#: the characters no store can hold alike: NUL and every surrogate
_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")
#: what stands in for a character that cannot be stored
REPLACEMENT: Final = "\ufffd"


def storable_text(text: str) -> str:
    """Return ``text`` with NUL and unpaired surrogates replaced by U+FFFD."""
    if _UNSTORABLE.search(text) is None:
        return text
    # through UTF-16, where a surrogate pair is the character it spells and
    # a lone surrogate is an error, replaced
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined.replace("\x00", REPLACEMENT)


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
