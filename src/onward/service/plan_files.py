"""
Plan files: YAML or JSON text to a validated Plan, its document, digest and lines.

YAML is read with a safe loader that keeps dates as strings (the document must
stay JSON-safe) and refuses duplicate keys; JSON refuses duplicate keys and
``NaN``/``Infinity``. Syntax errors become an
:class:`~onward.errors.InvalidDefinitionError` whose problem has an empty path
and a message naming the line and column.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Hashable, Iterator, Mapping
from typing import Any, Final, NoReturn

import yaml

from onward.domain import plan_schema
from onward.domain.plans import Plan
from onward.errors import InvalidDefinitionError, Problem

__all__ = [
    "MAX_DOCUMENT_VALUES",
    "MAX_NESTING_DEPTH",
    "detect_format",
    "document_digest",
    "line_of",
    "load_plan_text",
    "read_document",
]

#: most values a document may hold once YAML aliases are expanded
MAX_DOCUMENT_VALUES: Final = 1_000_000
#: deepest nesting of lists and mappings a YAML text may have (libyaml's composer
#: recurses in C and would crash the process on absurd depths)
MAX_NESTING_DEPTH: Final = 64

_FORMATS: Final = {"yaml": "yaml", "yml": "yaml", "json": "json"}
_PATH_TOKEN: Final = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_TIMESTAMP_TAG: Final = "tag:yaml.org,2002:timestamp"
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_LIBYAML_TOO_DEEP: Final = "exceeded maximum nesting depth"
_TYPE_NAMES: Final = {list: "list", str: "string", int: "integer", float: "number"}

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _PlanLoader(_BaseLoader):
    """A safe YAML loader that keeps timestamps as text and refuses duplicate keys."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(
        self, node: yaml.MappingNode, deep: bool = False
    ) -> dict[Hashable, Any]:
        """Build a mapping, refusing a key written twice in the same mapping."""
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                context, problem = (
                    "while constructing a mapping",
                    f"duplicate key {key!r}",
                )
                raise yaml.constructor.ConstructorError(
                    context, node.start_mark, problem, key_node.start_mark
                )
            seen.add(key if isinstance(key, Hashable) else id(key))
        mapping: dict[Hashable, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def detect_format(text: str, format: str | None = None) -> str:
    """
    Return ``yaml`` or ``json``: the given format, or a guess from the text.

    Args:
        text: the plan text.
        format: ``yaml``, ``yml`` or ``json`` (any case), or None to guess:
            JSON when the text starts with ``{``, YAML otherwise.

    Raises:
        ValueError: when ``format`` is not one of those.
    """
    if format is None:
        return "json" if text.lstrip("\ufeff \t\r\n").startswith("{") else "yaml"
    try:
        return _FORMATS[format.lower()]
    except KeyError:
        msg = f"unknown plan format {format!r}: use 'yaml' or 'json'"
        raise ValueError(msg) from None


def load_plan_text(
    text: str,
    *,
    source: str = "<plan>",
    format: str | None = None,
) -> tuple[Plan, dict[str, Any]]:
    """
    Parse and validate a plan written in YAML or JSON.

    Args:
        text: the plan text.
        source: where the text comes from (a file name), for messages.
        format: ``yaml`` or ``json``; guessed from the text when None.

    Returns:
        The plan and the plain document it was built from (JSON-safe).

    Raises:
        InvalidDefinitionError: on a syntax error (empty path, message with line
            and column) or any validation problem (see ``parse_plan``).
        ValueError: when ``format`` is not a known format.
    """
    document = read_document(text, source=source, format=format)
    return plan_schema.parse_plan(document), document


def read_document(
    text: str,
    *,
    source: str = "<plan>",
    format: str | None = None,
) -> dict[str, Any]:
    """
    Parse plan text into a plain mapping, without validating the plan in it.

    Raises:
        InvalidDefinitionError: on a syntax error, an empty text, a document that
            is not a mapping or one too large once YAML aliases are expanded.
        ValueError: when ``format`` is not a known format.
    """
    if detect_format(text, format) == "json":
        document = _read_json(text, source)
    else:
        document = _read_yaml(text, source)
    if document is None:
        _fail(f"{source} is empty: a plan is a mapping with at least a name")
    if not isinstance(document, dict):
        kind = _TYPE_NAMES.get(type(document), type(document).__name__)
        _fail(f"{source}: expected a mapping at the top of the plan, got {kind}")
    _check_size(document, source)
    return document


def document_digest(document: Mapping[str, Any]) -> str:
    """
    Return the sha256 (hex) of the document's canonical JSON (sorted keys).

    Two texts that differ only in layout, comments, key order or YAML-versus-JSON
    spelling have the same digest, so saving them again makes no new version.

    Raises:
        TypeError: when the document holds a value JSON cannot represent.
        ValueError: when it holds NaN or an infinity.
    """
    canonical = json.dumps(
        document,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def line_of(text: str, path: str) -> int | None:
    """
    Find the line (1-based) of a problem path such as ``groups[1].steps[0].timeout``.

    Best effort: when the path leads to a key or item that is not in the text (a
    missing key, say), the line of the deepest part found is returned.

    Args:
        text: the YAML (or JSON) text the document was read from.
        path: a problem's path; empty for the document as a whole.

    Returns:
        The line number, or None for an empty path or text that does not parse.
    """
    if not path:
        return None
    try:
        if _too_deep(text):
            return None
        node = yaml.compose(text, Loader=_PlanLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line: int = node.start_mark.line
    for segment in _path_segments(path):
        found = _child_node(node, segment)
        if found is None:
            break
        line, node = found
    return line + 1


# -- reading ---------------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    raise InvalidDefinitionError([Problem("", message)], subject="plan")


def _read_yaml(text: str, source: str) -> Any:
    try:
        if _too_deep(text):
            depth = MAX_NESTING_DEPTH
            _fail(f"{source}: lists and mappings are nested more than {depth} deep")
        return yaml.load(text, Loader=_PlanLoader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        _fail(_yaml_message(exc, source))
    except yaml.reader.ReaderError as exc:
        line, column = _line_column(text, exc.position)
        _fail(
            f"{source}: invalid character at line {line}, column {column}: {exc.reason}"
        )


def _too_deep(text: str) -> bool:
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_PlanLoader):
            if isinstance(event, yaml.events.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING_DEPTH:
                    return True
            elif isinstance(event, yaml.events.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        # libyaml (PyYAML 6.0.4 on) has a nesting limit of its own, which its
        # scanner can reach while looking ahead of the events read here
        if exc.problem == _LIBYAML_TOO_DEEP:
            return True
        raise
    return False


def _yaml_message(exc: yaml.MarkedYAMLError, source: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "invalid YAML"
    if mark is None:  # pragma: no cover - PyYAML's parse errors all carry a mark
        return f"{source}: invalid YAML: {what}"
    where = f"line {mark.line + 1}, column {mark.column + 1}"
    return f"{source}: invalid YAML at {where}: {what}"


def _line_column(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    line = before.count("\n") + 1
    return line, position - (before.rfind("\n") + 1) + 1


class _JsonContentError(ValueError):
    """A JSON document that parses but that a plan cannot hold."""


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            msg = f"duplicate key {key!r}"
            raise _JsonContentError(msg)
        mapping[key] = value
    return mapping


def _refuse_constant(name: str) -> NoReturn:
    msg = f"{name} is not a valid JSON number"
    raise _JsonContentError(msg)


def _read_json(text: str, source: str) -> Any:
    try:
        return json.loads(
            text.lstrip("\ufeff"),
            object_pairs_hook=_unique_pairs,
            parse_constant=_refuse_constant,
        )
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        _fail(f"{source}: invalid JSON at {where}: {exc.msg}")
    except _JsonContentError as exc:
        _fail(f"{source}: invalid JSON: {exc}")
    except RecursionError:
        _fail(f"{source}: the document is nested too deeply")


def _check_size(document: dict[str, Any], source: str) -> None:
    count = 0
    stack: list[Any] = [document]
    while stack:
        value = stack.pop()
        count += 1
        if count > MAX_DOCUMENT_VALUES:
            _fail(
                f"{source}: the document holds more than {MAX_DOCUMENT_VALUES} values "
                "once YAML aliases are expanded (or an alias refers to itself)"
            )
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


# -- locating paths ----------------------------------------------------------------


def _path_segments(path: str) -> Iterator[str | int]:
    for match in _PATH_TOKEN.finditer(path):
        index, key = match.groups()
        yield int(index) if index is not None else key


def _child_node(
    node: yaml.Node, segment: str | int, visited: frozenset[int] = frozenset()
) -> tuple[int, yaml.Node] | None:
    if isinstance(segment, int):
        if isinstance(node, yaml.SequenceNode) and segment < len(node.value):
            item: yaml.Node = node.value[segment]
            return item.start_mark.line, item
        return None
    if isinstance(node, yaml.MappingNode) and id(node) not in visited:
        return _mapping_child(node, segment, visited | {id(node)})
    return None


def _mapping_child(
    node: yaml.MappingNode, key: str, visited: frozenset[int]
) -> tuple[int, yaml.Node] | None:
    merged: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            merged.extend(_merge_sources(value_node))
        elif isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node.start_mark.line, value_node
    for source in merged:
        found = _child_node(source, key, visited)
        if found is not None:
            return found
    return None


def _merge_sources(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return [node]
