"""
Enterprise Manager representations: elements in the vendor's namespace, as XML or JSON.

A representation is built once as elements and written either way. XML is the
default; JSON is answered when ``Accept`` names ``application/json`` at least
as highly as XML (as the vendor does, even among other types). In JSON,
attributes and child elements become properties; a list element (``Links``,
``Includes``) becomes an array, and a list at the root an object with one
array (``{"Refs": [...]}``, ``{"Jobs": [...]}``). Every ``Href`` is absolute,
to the scheme, host and port the request came to. Every text and attribute
value is written XML-safe (``values.xml_text``), whoever built the element.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from xml.etree import ElementTree as ET

from fastapi import Request, Response

from onward.api.dialects import values
from onward.api.dialects.veeam_em.schemas import NAMESPACE

Scalar = str | int | bool
JSON: Final = "application/json"
XML: Final = "application/xml"


@dataclass(frozen=True, slots=True, kw_only=True)
class Element:
    """One element of a representation."""

    name: str
    attrs: Mapping[str, Scalar] = field(default_factory=dict)
    children: Sequence["Element"] = ()
    text: Scalar | None = None
    #: the children are the items of a list (an array in JSON)
    is_list: bool = False
    #: the array's property name when the list is the root
    json_key: str = ""


def leaf(name: str, value: Scalar) -> Element:
    """Return an element holding one value."""
    return Element(name=name, text=value)


def wants_json(accept: str | None) -> bool:
    """Tell whether an Accept header asks for JSON (else XML, the default)."""
    json_q, json_explicit = _quality(accept or "", JSON)
    xml_q, _ = _quality(accept or "", XML)
    return json_explicit and json_q > 0 and json_q >= xml_q


def _quality(accept: str, media: str) -> tuple[float, bool]:
    """Return the q-value the header gives a media type, and if it names it."""
    named: float | None = None
    wildcard = 0.0
    for part in accept.split(","):
        name, *params = (piece.strip() for piece in part.split(";"))
        q = _q(params)
        if name.lower() == media:
            named = q if named is None else max(named, q)
        elif name.lower() in (f"{media.split('/')[0]}/*", "*/*"):
            wildcard = max(wildcard, q)
    return (named, True) if named is not None else (wildcard, False)


def _q(params: Sequence[str]) -> float:
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def respond(
    request: Request,
    element: Element,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    data: Any = None,
) -> Response:
    """Return an element as XML, or as JSON when the request asks for it.

    Args:
        request: the request answered (its ``Accept`` decides).
        element: the representation.
        status: the status code.
        headers: more headers of the response.
        data: the JSON value, when it is not the element's own (the ``Error``
            has attributes in XML but more properties in JSON).
    """
    if wants_json(request.headers.get("accept")):
        value = to_json(element, root=True) if data is None else data
        # a lone surrogate (never valid UTF-8) is written as its JSON escape
        content = json.dumps(value, ensure_ascii=False).encode(
            "utf-8", "backslashreplace"
        )
        media = "application/json; charset=utf-8"
    else:
        content = to_xml(element)
        media = "application/xml; charset=utf-8"
    return Response(
        content, status_code=status, media_type=media, headers=dict(headers or {})
    )


def to_xml(element: Element) -> bytes:
    """Return an element as an XML document in the vendor's namespace."""
    root = _xml(element)
    # the namespace is declared as the vendor writes it: once, as the default
    root.attrib = {"xmlns": NAMESPACE, **root.attrib}
    text = ET.tostring(root, encoding="unicode")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + text.encode()


def _xml(element: Element) -> ET.Element:
    node = ET.Element(
        element.name, {key: _text(value) for key, value in element.attrs.items()}
    )
    if element.text is not None:
        node.text = _text(element.text)
    node.extend(_xml(child) for child in element.children)
    return node


def to_json(element: Element, *, root: bool = False) -> Any:
    """Return an element as a JSON value."""
    if element.is_list:
        items = [to_json(child) for child in element.children]
        return {element.json_key or element.name: items} if root else items
    if not element.attrs and not element.children:
        return element.text
    value: dict[str, Any] = dict(element.attrs)
    if element.text is not None:
        value["Value"] = element.text
    for child in element.children:
        value[child.name] = to_json(child)
    return value


def _text(value: Scalar) -> str:
    """Return a value as XML text: booleans in lower case, no character XML lacks."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return values.xml_text(str(value))


def base_url(request: Request) -> str:
    """Return the API's base URL as the request reached it (``.../api/``)."""
    return f"{str(request.base_url).rstrip('/')}/api/"


def link(rel: str, href: str, *, type_: str = "", name: str = "") -> Element:
    """Return a ``Link`` element."""
    attrs: dict[str, Scalar] = {"Rel": rel, "Href": href}
    if type_:
        attrs["Type"] = type_
    if name:
        attrs["Name"] = name
    return Element(name="Link", attrs=attrs)


def links(*items: Element) -> Element:
    """Return a ``Links`` element."""
    return Element(name="Links", children=items, is_list=True)
