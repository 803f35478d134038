"""
Typed identifiers and their generation (time-ordered, sortable, random).
"""

from __future__ import annotations

import os
import time
from typing import NewType

RunId = NewType("RunId", str)
AttemptId = NewType("AttemptId", str)
PlanId = NewType("PlanId", str)
WorkerId = NewType("WorkerId", str)

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _encode(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """
    Return a new identifier: prefix, 48-bit milliseconds, 80 random bits.

    Identifiers made later sort after earlier ones (to the millisecond).
    """
    millis = time.time_ns() // 1_000_000
    entropy = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_encode(millis, 10)}{_encode(entropy, 16)}"


def new_run_id() -> RunId:
    """Return a new run id."""
    return RunId(new_id("run"))


def new_attempt_id() -> AttemptId:
    """Return a new attempt id."""
    return AttemptId(new_id("att"))


def new_plan_id() -> PlanId:
    """Return a new plan id."""
    return PlanId(new_id("pln"))


def new_worker_id() -> WorkerId:
    """Return a new worker id."""
    return WorkerId(new_id("wrk"))
