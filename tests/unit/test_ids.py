"""Identifiers: time-ordered, and always increasing within one process."""

from __future__ import annotations

import re

import pytest

from onward import ids


def test_ids_made_in_a_burst_sort_in_the_order_they_were_made() -> None:
    """Thousands within a few milliseconds: unique, each after the one before."""
    made = [ids.new_id("run") for _ in range(5000)]

    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"run_[0-9a-hjkmnp-tv-z]{26}", made_id) for made_id in made)


def test_ids_still_increase_when_the_clock_stands_still_or_steps_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stuck clock, then one set back an hour: the order holds."""
    now = [1_800_000_000_000_000_000]
    monkeypatch.setattr(ids.time, "time_ns", lambda: now[0])
    monotonic = ids._Monotonic()

    stuck = [monotonic.next() for _ in range(100)]
    now[0] -= 3_600 * 10**9
    back = [monotonic.next() for _ in range(100)]

    made = stuck + back
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert {millis for millis, _ in stuck} == {1_800_000_000_000}


def test_entropy_that_would_overflow_moves_to_the_next_millisecond(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past 80 bits of entropy in one millisecond, the id takes the next one."""
    monkeypatch.setattr(ids.time, "time_ns", lambda: 5_000_000)
    monkeypatch.setattr(ids.os, "urandom", lambda size: b"\xff" * size)
    monotonic = ids._Monotonic()

    first = monotonic.next()
    second = monotonic.next()

    assert first == (5, (1 << 80) - 1)
    assert second[0] == 6
    assert 0 <= second[1] < 1 << 80
