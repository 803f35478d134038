"""
UUIDs of plans and of their groups, targets and steps, for APIs that address them so.

A plan's UUID spells its id. An Onward plan id is ``pln_`` and 26 characters of
Crockford base32 (48 bits of milliseconds, 80 random bits): exactly 128 bits,
so the UUID is those bits and the plan id can be read back from it. An id of
another form (never made by Onward itself) gets a name-based UUID (uuid5).
Groups, targets and steps get name-based UUIDs under their plan's, so they stay
the same across versions of a plan that keep their names.
"""

from __future__ import annotations

import re
import uuid
from typing import Final

from onward import errors
from onward.service.ports import PlanSummary, Store

#: the namespace of name-based UUIDs of plan ids of another form
NAMESPACE: Final = uuid.UUID("5b0f4a8e-3c1d-4e7a-9f2b-6d8c0e1a2b3c")
_ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"  # as onward.ids writes ids
_BASE32: Final = "[0-9a-hjkmnp-tv-z]"
_PLAN_ID: Final = re.compile(f"pln_([0-7]{_BASE32}{{9}})({_BASE32}{{16}})")
_RANDOM_BITS: Final = 80


def plan_uuid(plan_id: str) -> uuid.UUID:
    """Return the UUID of a plan id (its own bits for ids Onward makes)."""
    match = _PLAN_ID.fullmatch(plan_id)
    if match is None:
        return uuid.uuid5(NAMESPACE, plan_id)
    millis, entropy = (_decode(part) for part in match.groups())
    return uuid.UUID(int=millis << _RANDOM_BITS | entropy)


def plan_id_of(value: uuid.UUID) -> str:
    """Return the plan id a UUID spells (the inverse of ``plan_uuid``)."""
    millis, entropy = divmod(value.int, 1 << _RANDOM_BITS)
    return f"pln_{_encode(millis, 10)}{_encode(entropy, 16)}"


def part_uuid(plan: uuid.UUID, *names: str) -> uuid.UUID:
    """Return the UUID of a part of a plan named by a path (group, target, step)."""
    return uuid.uuid5(plan, "\x1f".join(names))


def parse_uuid(text: str) -> uuid.UUID | None:
    """Return the UUID a text spells (with or without braces/dashes), or None."""
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


async def find_plan(store: Store, *, workspace: str, value: uuid.UUID) -> PlanSummary:
    """Return the workspace's plan with this UUID; raise PlanNotFoundError."""
    for summary in await store.list_plans(workspace=workspace):
        if plan_uuid(summary.plan_id) == value:
            return summary
    raise errors.PlanNotFoundError(plan=str(value))


def _decode(text: str) -> int:
    number = 0
    for char in text:
        number = number * 32 + _ALPHABET.index(char)
    return number


def _encode(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))
