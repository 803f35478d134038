"""The dialects' shared readers: ASCII decimals, bounded JSON, XML-safe text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from onward.api.dialects import values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2026", 2026, id="digits"),
        pytest.param("0", 0, id="zero"),
        pytest.param(str(values.INT64_MAX), values.INT64_MAX, id="long-max"),
        pytest.param(str(values.INT64_MAX + 1), None, id="past-long"),
        pytest.param("\u00b2", None, id="superscript-two"),
        pytest.param("\u0663", None, id="arabic-indic-three"),
        pytest.param("-1", None, id="negative"),
        pytest.param("+1", None, id="plus-sign"),
        pytest.param(" 1", None, id="space"),
        pytest.param("1.0", None, id="fraction"),
        pytest.param("", None, id="empty"),
        pytest.param("9" * 5000, None, id="five-thousand-digits"),
        pytest.param("0" * 5000 + "7", 7, id="leading-zeros"),
    ],
)
def test_decimal_reads_ascii_digits_only(text: str, expected: int | None) -> None:
    """Only plain ASCII digits within the bound are a number."""
    assert values.decimal(text) == expected


def test_decimal_honours_a_smaller_maximum() -> None:
    """A value past the given maximum is refused."""
    assert values.decimal(str(values.INT32_MAX + 1), maximum=values.INT32_MAX) is None


def test_load_json_reads_a_document() -> None:
    """A JSON body is returned as Python values, brackets in strings ignored."""
    assert values.load_json(b'{"a": ["[[[", {"b": 1}]}') == {"a": ["[[[", {"b": 1}]}


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        pytest.param(b'{"a":' + b"[" * 200_000, "more than 64 deep", id="deep"),
        pytest.param(b"[" * 65 + b"]" * 65, "more than 64 deep", id="just-past"),
        pytest.param(b"{nope", "not valid JSON", id="malformed"),
        pytest.param(b"\xff\xfe", "not UTF-8", id="not-utf8"),
    ],
)
def test_load_json_refuses_with_a_reason(raw: bytes, says: str) -> None:
    """Malformed, non-UTF-8 and too deeply nested bodies are refused, never a crash."""
    with pytest.raises(values.JsonBodyError) as raised:
        values.load_json(raw)

    assert says in str(raised.value)


def test_load_json_accepts_the_deepest_nesting_allowed() -> None:
    """Nesting exactly at the limit is read."""
    depth = values.MAX_JSON_DEPTH

    assert values.load_json("[" * depth + "]" * depth) is not None


def test_xml_text_keeps_an_answer_well_formed() -> None:
    """Control characters and lone surrogates become U+FFFD; the rest stays."""
    element = ET.Element("Error", Message=values.xml_text("op_\x00\x01\ud800 é\t✓"))

    parsed = ET.fromstring(ET.tostring(element))  # noqa: S314 - our own document

    assert parsed.attrib["Message"] == "op_\ufffd\ufffd\ufffd é\t✓"
