"""Contract of leases: one holder at a time, renewal, expiry, release."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from onward.service.ports import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TTL = timedelta(seconds=10)


async def test_a_free_lease_is_acquired(store: Store) -> None:
    """The first owner to ask for a lease gets it."""
    assert await store.acquire_lease(name="scheduler", owner="a", now=T0, ttl=TTL)


async def test_a_held_lease_is_refused_to_another_owner(store: Store) -> None:
    """While the lease is unexpired, another owner is refused."""
    await store.acquire_lease(name="scheduler", owner="a", now=T0, ttl=TTL)

    refused = await store.acquire_lease(
        name="scheduler", owner="b", now=T0 + TTL / 2, ttl=TTL
    )

    assert refused is False


async def test_the_holder_renews_its_lease(store: Store) -> None:
    """The holder may renew, which moves the expiry on."""
    await store.acquire_lease(name="scheduler", owner="a", now=T0, ttl=TTL)

    renewed = await store.acquire_lease(
        name="scheduler", owner="a", now=T0 + TTL / 2, ttl=TTL
    )
    taken = await store.acquire_lease(
        name="scheduler", owner="b", now=T0 + TTL, ttl=TTL
    )

    assert (renewed, taken) == (True, False)


async def test_an_expired_lease_is_taken_over(store: Store) -> None:
    """Once its holder stops renewing, another owner takes the lease over."""
    await store.acquire_lease(name="scheduler", owner="a", now=T0, ttl=TTL)

    taken = await store.acquire_lease(
        name="scheduler", owner="b", now=T0 + TTL, ttl=TTL
    )
    old_holder = await store.acquire_lease(
        name="scheduler", owner="a", now=T0 + TTL, ttl=TTL
    )

    assert (taken, old_holder) == (True, False)


async def test_a_released_lease_is_free_at_once(store: Store) -> None:
    """Releasing a lease lets another owner take it before it would expire."""
    await store.acquire_lease(name="scheduler", owner="a", now=T0, ttl=TTL)

    await store.release_lease(name="scheduler", owner="a")

    assert await store.acquire_lease(name="scheduler", owner="b", now=T0, ttl=TTL)


async def test_only_the_holder_releases_a_lease(store: Store) -> None:
    """A release by someone who does not hold the lease changes nothing."""
    await store.acquire_lease(name="scheduler", owner="a", now=T0, ttl=TTL)

    await store.release_lease(name="scheduler", owner="b")

    assert not await store.acquire_lease(name="scheduler", owner="b", now=T0, ttl=TTL)


async def test_leases_of_different_names_are_independent(store: Store) -> None:
    """Holding one lease says nothing about another."""
    await store.acquire_lease(name="scheduler", owner="a", now=T0, ttl=TTL)

    assert await store.acquire_lease(name="other", owner="b", now=T0, ttl=TTL)


async def test_concurrent_acquisitions_have_one_winner(store: Store) -> None:
    """Many owners asking at once for a free lease: exactly one gets it."""
    outcomes = await asyncio.gather(
        *(
            store.acquire_lease(name="scheduler", owner=f"o{i}", now=T0, ttl=TTL)
            for i in range(5)
        )
    )

    assert outcomes.count(True) == 1
