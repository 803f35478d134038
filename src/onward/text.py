"""
Text every store holds alike: NUL and lone surrogates replaced by U+FFFD.

* U+0000 becomes U+FFFD: PostgreSQL ``text`` cannot hold a NUL (and ``jsonb``
  refuses the ``\\u0000`` escape), while SQLite and the memory store keep it.
* A surrogate code point (a Python string may hold one, a decoded UTF-8 text
  never does) cannot be encoded to UTF-8 for any database: a lone one becomes
  U+FFFD; a high one followed by a low one is the character the pair spells.

The stores apply it to every text they are given (the SQL store in its column
types, the memory store to its arguments), and the worker to what an action
produces, so that what a run holds in memory is what the store holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

#: the characters no store can hold alike: NUL and every surrogate
_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")
#: what stands in for a character that cannot be stored
REPLACEMENT: Final = "\ufffd"


def storable_text(text: str) -> str:
    """Return ``text`` with NUL and unpaired surrogates replaced by U+FFFD.

    Returns:
        ``text`` itself when it holds neither (the common case, one search).
    """
    if _UNSTORABLE.search(text) is None:
        return text
    # through UTF-16, where a surrogate pair is the character it spells and
    # a lone surrogate is an error, replaced
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined.replace("\x00", REPLACEMENT)


def storable_json(value: Any) -> Any:
    """Return JSON data with every string in it storable, keys included.

    Nothing else changes: a value JSON cannot hold stays as it is.
    """
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, Mapping):
        return {
            storable_text(key) if isinstance(key, str) else key: storable_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [storable_json(item) for item in value]
    return value
