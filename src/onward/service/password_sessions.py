"""
One login session per username and password, for APIs that answer Basic with a token.

Some APIs take HTTP Basic credentials on every request and give the client a
token in the answer, to send instead of the password afterwards. Issuing a
session per request would store a credential per request; instead a login (a
username and password, verified through ``PasswordCache``) gets one session,
reused while it is valid and younger than half its lifetime, so that a token
handed out always has half a lifetime left (6 of 12 hours). Then the login gets
a new session; the old one stays valid until it expires. A login so holds at
most two valid sessions and adds at most four a day, however often it is sent.

Each session's token is kept in process memory (at most 4,096 logins, the
least recently used forgotten first: a forgotten login gets a new session);
each process keeps its own, and a restart issues new sessions. Whether the
session is still valid is read from the store at each use, so a revoked one (a
logout with its token) is replaced at the next request.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from onward.clock import Clock
from onward.domain.access import Principal
from onward.service.auth import AuthService, hash_secret
from onward.service.credential_cache import PasswordCache, login_digest
from onward.service.ports import AccessStore

_CAPACITY: Final = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordLogin:
    """Who a username and password belong to, and the token of their session."""

    principal: Principal
    #: the session's secret, to be sent instead of the password
    token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Held:
    token: str
    #: when the login gets a new session instead
    renew_at: datetime


class PasswordSessions:
    """Verifies usernames and passwords; gives each login one session, reused."""

    def __init__(
        self,
        *,
        auth: AuthService,
        passwords: PasswordCache,
        store: AccessStore,
        clock: Clock,
        capacity: int = _CAPACITY,
    ) -> None:
        self._auth = auth
        self._passwords = passwords
        self._store = store
        self._clock = clock
        self._capacity = capacity
        self._salt = os.urandom(16)
        self._held: OrderedDict[bytes, _Held] = OrderedDict()
        # two first requests of a login at once would otherwise issue two sessions
        self._issuing = asyncio.Lock()

    async def sign_in(
        self, username: str, password: str, *, address: str
    ) -> PasswordLogin:
        """Verify a username and password; return who they are and a session token.

        Raises:
            AuthenticationError: wrong username or password, or a disabled user.
            RateLimitedError: too many failures for the account or the address.
        """
        principal = await self._passwords.verify(username, password, address=address)
        key = login_digest(self._salt, username, password)
        token = await self._reusable(key, principal)
        if token is None:
            async with self._issuing:
                token = await self._reusable(key, principal) or await self._issue(
                    key, principal
                )
        return PasswordLogin(principal=principal, token=token)

    async def _reusable(self, key: bytes, principal: Principal) -> str | None:
        """Return the token of the login's session if it may still be handed out."""
        held = self._held.get(key)
        now = self._clock.now()
        if held is None or now >= held.renew_at:
            return None
        credential = await self._store.find_credential(hash_secret(held.token))
        if (
            credential is None
            or credential.user_id != principal.user_id
            or not credential.is_valid(now)
        ):
            return None
        self._held.move_to_end(key)
        return held.token

    async def _issue(self, key: bytes, principal: Principal) -> str:
        issued = await self._auth.issue_session(principal)
        credential = issued.credential
        # sessions always expire; one that did not would be renewed at once
        expires_at = credential.expires_at or credential.created_at
        self._held[key] = _Held(
            token=issued.secret,
            renew_at=credential.created_at + (expires_at - credential.created_at) / 2,
        )
        self._held.move_to_end(key)
        while len(self._held) > self._capacity:
            self._held.popitem(last=False)
        return issued.secret
