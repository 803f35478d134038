"""
Body values read as Json.NET reads them, and refused in its words.

ASP.NET Web API, VAO's framework, reads a JSON body with Json.NET
(JamesNK/Newtonsoft.Json): each property by its .NET type. The annotated
types here take what Json.NET takes and leave anything else to pydantic's
strict checks; ``message`` words each error pydantic reports as Web API shows
Json.NET's exception (``JsonReader``'s words; the path named, no line or
position):

========================  ==========================================================
property (.NET type)      taken
========================  ==========================================================
``Boolean`` (``bool``)    JSON booleans; numbers (0 is false); ``"true"`` and
                          ``"false"`` in any case, spaces around (``ReadAsBoolean``)
``Date`` (``DateTime?``)  ISO 8601 text; null and ``""`` are none
                          (``ReadAsDateTime``); never a number
``Text`` (``string``)     text; numbers and booleans as their text (``ReadAsString``)
an enum                   its names in any case, spaces around (``Enum.Parse``);
                          not numbers (chosen: no vendor page numbers the values)
========================  ==========================================================

A missing required property is worded as DataAnnotations' ``[Required]`` is.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Strict
from pydantic_core import ErrorDetails

#: the error type of a refusal the dialect words itself (its message as it is)
VENDOR_MESSAGE: Final = "vendor_message"

#: Json.NET's token of each JSON value (``JsonToken``), as its messages name it
_TOKENS: Final[Mapping[type, str]] = {
    type(None): "Null",
    bool: "Boolean",
    int: "Integer",
    float: "Float",
    str: "String",
    list: "StartArray",
    dict: "StartObject",
}
#: a surrogate left in decoded JSON text: one no pair was made of
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_TRUTHS: Final = {"true": True, "false": False}
_PRIMITIVE: Final = "JSON primitive value (e.g. string, number, boolean, null)"
_CONTAINERS: Final[Mapping[type, str]] = {
    list: "array (e.g. [1,2,3])",
    dict: 'object (e.g. {"name":"value"})',
}


def read(value: Any) -> Any:
    """Return a property's value as Json.NET reads it: a lone surrogate is U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


def _boolean(value: Any) -> Any:
    """Return what Json.NET reads as a ``bool`` as that bool; leave the rest."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return _TRUTHS.get(value.strip().lower(), value)
    return value


def _date(value: Any) -> Any:
    """Return ISO 8601 text as a datetime and ``""`` as none; leave the rest."""
    if value == "":
        return None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _text(value: Any) -> Any:
    """Return a number or boolean as its text (``True``, as .NET writes it)."""
    return str(value) if isinstance(value, bool | int | float) else value


def enum_names(names: Iterable[str]) -> BeforeValidator:
    """Return a reader of an enum's names in any case, spaces around ignored."""
    by_lower = {name.lower(): name for name in names}

    def canonical(value: Any) -> Any:
        if isinstance(value, str):
            return by_lower.get(value.strip().lower(), value)
        return value

    return BeforeValidator(canonical)


#: a boolean property (``System.Boolean``)
Boolean = Annotated[bool, Strict(), BeforeValidator(_boolean)]
#: a date property (``System.DateTime?``): null and "" are none
Date = Annotated[datetime | None, Strict(), BeforeValidator(_date)]
#: a text property (``System.String``)
Text = Annotated[str | None, Strict(), BeforeValidator(_text)]


def message(error: ErrorDetails, name: str) -> str:
    """Return the message of a refused property as Web API and Json.NET word it.

    Args:
        error: one error pydantic reports.
        name: the property as the vendor spells it (Json.NET's path).
    """
    kind = error["type"]
    if kind == "missing":
        return f"The {name} field is required."
    if kind == VENDOR_MESSAGE:
        return error["msg"]
    value = error.get("input")
    if kind == "literal_error":
        reason = _enum_refusal(value, name)
    elif kind in _REFUSALS:
        reason = _REFUSALS[kind](value)
    else:
        return f"The value '{value}' is not valid for {name}."
    return f"{reason} Path '{name}'."


def _boolean_refusal(value: Any) -> str:
    if value is None or value == "":
        return "Error converting value {null} to type 'System.Boolean'."
    if isinstance(value, str):
        return f"Could not convert string to boolean: {value}."
    return f"Error reading boolean. Unexpected token: {_token(value)}."


def _date_refusal(value: Any) -> str:
    if isinstance(value, str):
        return f"Could not convert string to DateTime: {value}."
    return f"Error reading date. Unexpected token: {_token(value)}."


def _text_refusal(value: Any) -> str:
    return f"Error reading string. Unexpected token: {_token(value)}."


def _enum_refusal(value: Any, name: str) -> str:
    """Return Json.NET's refusal of an enum value (its type: the property's name)."""
    target = name[:1].upper() + name[1:]
    shape = _CONTAINERS.get(type(value))
    if shape is not None:
        return (
            f"Cannot deserialize the current JSON {shape} into type '{target}' "
            f"because the type requires a {_PRIMITIVE} to deserialize correctly."
        )
    return f"Error converting value {_printed(value)} to type '{target}'."


#: the refusal of a value pydantic's strict check refused, by its error type
_REFUSALS: Final[Mapping[str, Callable[[Any], str]]] = {
    "bool_type": _boolean_refusal,
    "datetime_type": _date_refusal,
    "string_type": _text_refusal,
}


def _token(value: Any) -> str:
    return _TOKENS.get(type(value), "Undefined")


def _printed(value: Any) -> str:
    """Return a value as Json.NET prints it (``MiscellaneousUtils.ToString``)."""
    if value is None:
        return "{null}"
    return f'"{value}"' if isinstance(value, str) else str(value)
