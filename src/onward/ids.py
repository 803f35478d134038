"""
Typed identifiers and their generation (time-ordered, sortable, random).
"""

from __future__ import annotations

import os
import threading
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


_ENTROPY_BITS = 80


class _Monotonic:
    """The (milliseconds, entropy) of each new identifier, ever increasing.

    Within one millisecond (or if the clock steps back), the next identifier
    takes the last one's time and its entropy plus a random step, as
    monotonic ULIDs do: so identifiers made later in this process always sort
    after earlier ones, however fast they are made.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = (0, 0)

    def next(self) -> tuple[int, int]:
        millis = time.time_ns() // 1_000_000
        entropy = int.from_bytes(os.urandom(_ENTROPY_BITS // 8), "big")
        with self._lock:
            last_millis, last_entropy = self._last
            if millis <= last_millis:
                step = 1 + (entropy >> (_ENTROPY_BITS // 2))
                millis, entropy = last_millis, last_entropy + step
                if entropy >= 1 << _ENTROPY_BITS:
                    millis, entropy = last_millis + 1, entropy - (1 << _ENTROPY_BITS)
            self._last = (millis, entropy)
        return millis, entropy


_MONOTONIC = _Monotonic()


def new_id(prefix: str) -> str:
    """
    Return a new identifier: prefix, 48-bit milliseconds, 80 random bits.

    Identifiers made later sort after earlier ones: to the millisecond across
    processes, always within this one.
    """
    millis, entropy = _MONOTONIC.next()
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
