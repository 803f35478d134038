"""
The memory stores' arguments, taken with their text as the SQL store binds it.

The SQL store's column types bind every string with NUL and lone surrogates
replaced by U+FFFD (:mod:`onward.text`). The memory stores do the same to
every argument of their public methods: a string, and each string in a
record, mapping or sequence, at any depth. A write then stores what the SQL
store stores, and a lookup by a key with a NUL finds what the SQL store finds.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

from onward.text import storable_text

_C = TypeVar("_C", bound=type)
_T = TypeVar("_T")
_Method = Callable[..., Awaitable[Any]]


def storable_arguments(cls: _C) -> _C:
    """Make each public coroutine method defined in ``cls`` take storable arguments."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(member):
            setattr(cls, name, _taking_storable(member))
    return cls


def _taking_storable(method: _Method) -> _Method:
    @functools.wraps(method)
    async def taking_storable(self: object, *args: Any, **kwargs: Any) -> Any:
        return await method(
            self,
            *[storable(arg) for arg in args],
            **{name: storable(arg) for name, arg in kwargs.items()},
        )

    return taking_storable


def storable(value: _T) -> _T:
    """Return ``value`` with its text storable (``value`` itself if it was)."""
    made: object = value
    if isinstance(value, str):
        made = storable_text(value)
    elif isinstance(value, Mapping):
        made = _storable_mapping(value)
    elif isinstance(value, list | tuple):
        made = _storable_sequence(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        made = _storable_record(value)
    return cast("_T", made)


def _storable_record(value: Any) -> object:
    changed: dict[str, Any] = {}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        new_item = storable(item)
        if new_item is not item:
            changed[field.name] = new_item
    return dataclasses.replace(value, **changed) if changed else value


def _storable_mapping(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    made: dict[Any, Any] = {}
    changed = False
    for key, item in value.items():
        new_key, new_item = storable(key), storable(item)
        changed = changed or new_key is not key or new_item is not item
        made[new_key] = new_item
    return made if changed else value


def _storable_sequence(value: list[Any] | tuple[Any, ...]) -> object:
    items = [storable(item) for item in value]
    if all(new is old for new, old in zip(items, value, strict=True)):
        return value
    if isinstance(value, list):
        return items
    if hasattr(value, "_fields"):
        # a named tuple takes its fields one by one
        return type(value)(*items)
    return type(value)(items)
