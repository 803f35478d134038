"""Action output made storable: NUL and surrogates replaced, output made JSON data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from onward.actions.base import ActionResult
from onward.text import storable_text
from onward.worker.attempts import report_of
from onward.worker.storable import storable_output


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        pytest.param("plain é 😀", "plain é 😀", id="storable"),
        pytest.param("a\x00b\x00", "a\ufffdb\ufffd", id="nul"),
        pytest.param("a\ud800b", "a\ufffdb", id="lone-high-surrogate"),
        pytest.param("\udc80\udcff", "\ufffd\ufffd", id="lone-low-surrogates"),
        pytest.param("\ud83d\ude00", "😀", id="surrogate-pair"),
        pytest.param("\ude00\ud83d", "\ufffd\ufffd", id="pair-in-the-wrong-order"),
    ],
)
def test_text_keeps_what_every_store_holds_and_replaces_the_rest(
    text: str, stored: str
) -> None:
    """NUL and unpaired surrogates become U+FFFD; a pair is the character it spells."""
    result = storable_text(text)

    assert result == stored
    assert result.encode("utf-8").decode("utf-8") == result


def test_the_output_is_made_storable_in_keys_and_values_at_every_depth() -> None:
    """Strings are cleaned wherever they are in the output, keys included."""
    output = {"k\x00": {"inner\ud800": ["a\x00", {"deep": "\x00"}]}}

    assert storable_output(output) == {
        "k\ufffd": {"inner\ufffd": ["a\ufffd", {"deep": "\ufffd"}]}
    }


def test_values_json_cannot_hold_become_their_repr() -> None:
    """Sets, datetimes, NaN and infinities are recorded as their repr, as text."""
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    output: dict[str, Any] = {
        "set": {1},
        "at": moment,
        "nan": float("nan"),
        "inf": float("-inf"),
        "bytes": b"\x00",
    }

    assert storable_output(output) == {
        "set": "{1}",
        "at": repr(moment),
        "nan": "nan",
        "inf": "-inf",
        "bytes": "b'\\x00'",
    }


def test_json_data_is_kept_as_json_would_store_it() -> None:
    """Numbers, booleans and None stay; tuples become lists; keys become strings."""
    output: dict[str, Any] = {
        "n": [1, 2.5, True, None, (3, 4)],
        "keys": {1: "a", 2.5: "b", None: "c", False: "d", (1, 2): "e"},
    }

    assert storable_output(output) == {
        "n": [1, 2.5, True, None, [3, 4]],
        "keys": {"1": "a", "2.5": "b", "null": "c", "false": "d", "(1, 2)": "e"},
    }


def test_a_report_carries_the_storable_output_and_error() -> None:
    """The report of a result holds its output and error made storable."""
    result = ActionResult.failed("bad\x00news", output={"out": "a\ud800"})

    report = report_of(result)

    assert report.error == "bad\ufffdnews"
    assert report.output == {"out": "a\ufffd"}
