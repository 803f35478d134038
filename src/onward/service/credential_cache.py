"""
A short memory of verified passwords, for APIs that send one with every request.

Verifying an argon2id password costs tens of milliseconds by design; a client
that sends HTTP Basic credentials with every request would pay it each time.
A successful verification is remembered for a short time (30 s by default),
keyed by a salted SHA-256 of the username and password (the salt is random per
process; the password itself is never kept). Failures are never remembered:
each one is verified and counted by the login limiter. Within the time to
live, a changed password, a disabled account or a changed role is not seen yet.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from onward.clock import Clock
from onward.domain.access import Principal
from onward.service.auth import AuthService

_CAPACITY: Final = 4096


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    until: datetime


class PasswordCache:
    """Verifies usernames and passwords, remembering successes briefly."""

    def __init__(
        self,
        *,
        auth: AuthService,
        clock: Clock,
        ttl: timedelta = timedelta(seconds=30),
        capacity: int = _CAPACITY,
    ) -> None:
        self._auth = auth
        self._clock = clock
        self._ttl = ttl
        self._capacity = capacity
        self._salt = os.urandom(16)
        self._seen: OrderedDict[bytes, _Verified] = OrderedDict()

    async def verify(self, username: str, password: str, *, address: str) -> Principal:
        """Return who the credentials belong to; raise AuthenticationError.

        Raises:
            AuthenticationError: wrong username or password, or a disabled user.
            RateLimitedError: too many failures for the account or the address.
        """
        key = login_digest(self._salt, username, password)
        now = self._clock.now()
        seen = self._seen.get(key)
        if seen is not None and now < seen.until:
            return seen.principal
        principal = await self._auth.verify_password(
            username, password, address=address
        )
        self._seen[key] = _Verified(principal=principal, until=now + self._ttl)
        self._seen.move_to_end(key)
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return principal


def login_digest(salt: bytes, username: str, password: str) -> bytes:
    """Return the salted SHA-256 that stands for a username and password."""
    return hashlib.sha256(salt + username.encode() + b"\0" + password.encode()).digest()
