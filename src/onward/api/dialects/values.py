"""
Reading and writing values the same way in every dialect: numbers, JSON, XML text.

Each dialect answers in its own envelope, but they all read client text the
same way: decimal numbers are ASCII digits only (``"²".isdigit()`` is true, yet
``int("²")`` fails), JSON bodies are refused past a nesting depth before the
parser's recursion gives out, and text written into XML loses the characters
XML 1.0 cannot carry (a client's ``%00`` in a path would make the whole answer
unreadable).
"""

import json
import re
from typing import Any, Final

#: deepest nesting of lists and objects a JSON body may have
MAX_JSON_DEPTH: Final = 64
#: the largest 64-bit signed integer (Java's ``long``, .NET's ``Int64``)
INT64_MAX: Final = 2**63 - 1
#: the largest 32-bit signed integer (.NET's ``Int32``)
INT32_MAX: Final = 2**31 - 1

_DIGITS: Final = re.compile(r"[0-9]+")
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NESTING: Final = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class JsonBodyError(ValueError):
    """A body that is not JSON, or nests too deeply; the message says which."""


def decimal(text: str, *, maximum: int = INT64_MAX) -> int | None:
    """Return ``text`` as a non-negative integer, or None when it is not one.

    Args:
        text: ASCII digits only: no sign, no spaces, no other scripts' digits.
        maximum: the largest value accepted (a 64-bit signed long by default).
    """
    if not _DIGITS.fullmatch(text):
        return None
    # Python refuses to convert more than 4,300 digits: longer cannot fit anyway
    significant = text.lstrip("0") or "0"
    if len(significant) > len(str(maximum)):
        return None
    value = int(significant)
    return value if value <= maximum else None


def load_json(raw: bytes | str) -> Any:
    """Return the JSON document in ``raw``.

    Raises:
        JsonBodyError: the body is not UTF-8 JSON, or nests deeper than
            ``MAX_JSON_DEPTH``.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        msg = "The body is not UTF-8 text."
        raise JsonBodyError(msg) from exc
    if _depth(text) > MAX_JSON_DEPTH:
        msg = f"The body nests lists and objects more than {MAX_JSON_DEPTH} deep."
        raise JsonBodyError(msg)
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError, and NaN-like oddities
        msg = f"The body is not valid JSON: {exc}"
        raise JsonBodyError(msg) from exc


def xml_text(text: str) -> str:
    """Return ``text`` without the characters XML 1.0 cannot carry (U+FFFD instead)."""
    return _NOT_XML.sub("\ufffd", text)


def _depth(text: str) -> int:
    """Return how deep brackets outside strings nest (stopping one past the limit)."""
    deepest = depth = 0
    for token in _NESTING.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return depth
            deepest = max(deepest, depth)
        elif bracket in "]}":
            depth -= 1
    return deepest
