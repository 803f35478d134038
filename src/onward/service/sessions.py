"""
Login sessions with refresh tokens: password and refresh grants, sign-in, logout.

For APIs whose clients sign in the OAuth 2.0 way (an access token and a
refresh token) or keep a logon session. The access token is an ordinary login
session of ``AuthService`` (its lifetime, its rate limits). A refresh token is a
credential of its own kind, bound to its access token by name
(``refresh:<access credential id>``); no endpoint accepts it as a bearer token,
only ``refresh`` does. A refresh issues a new pair
and revokes the old one; logout revokes the session and its refresh tokens.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from onward import errors
from onward.clock import Clock
from onward.domain.access import Credential, CredentialKind, Principal
from onward.ids import new_id
from onward.service.auth import SECRET_PREFIX, AuthService, hash_secret
from onward.service.ports import AccessStore

_REFRESH_NAME: Final = "refresh:"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionGrant:
    """A session's secrets, shown once to their owner."""

    username: str
    #: the credential id of the access token (the session)
    credential_id: str
    access_token: str
    expires_at: datetime
    #: None when the session was opened without one
    refresh_token: str | None = None


class Sessions:
    """Opens, refreshes, checks and ends login sessions."""

    def __init__(
        self,
        *,
        auth: AuthService,
        store: AccessStore,
        clock: Clock,
        refresh_lifetime: timedelta = timedelta(hours=24),
    ) -> None:
        self._auth = auth
        self._store = store
        self._clock = clock
        self._refresh_lifetime = refresh_lifetime

    async def login(
        self, username: str, password: str, *, address: str, refreshable: bool = False
    ) -> SessionGrant:
        """Check a password and open a session (with a refresh token if asked).

        Raises:
            AuthenticationError: wrong username or password.
            RateLimitedError: too many failures for the account or the address.
        """
        issued = await self._auth.login(username, password, address=address)
        access = issued.credential
        refresh = await self._refresh_token(access) if refreshable else None
        return SessionGrant(
            username=username,
            credential_id=access.credential_id,
            access_token=issued.secret,
            expires_at=_expiry(access),
            refresh_token=refresh,
        )

    async def refresh(self, refresh_token: str) -> SessionGrant:
        """Exchange a refresh token for a new pair; the old pair is revoked.

        The new session lasts as long as the one it replaces did.

        Raises:
            AuthenticationError: the refresh token is unknown, expired, revoked,
                not a refresh token, or its user is disabled.
        """
        found = await self._store.find_credential(hash_secret(refresh_token))
        now = self._clock.now()
        if (
            found is None
            or found.kind is not CredentialKind.REFRESH
            or not found.is_valid(now)
            or not found.name.startswith(_REFRESH_NAME)
        ):
            msg = "The refresh token is unknown, expired or revoked"
            raise errors.AuthenticationError(msg)
        user = await self._store.get_user(found.user_id)
        if user.disabled:
            msg = "The account is disabled"
            raise errors.AuthenticationError(msg)
        old_access = await self._store.get_credential(
            found.name.removeprefix(_REFRESH_NAME)
        )
        await self._store.revoke_credential(found.credential_id, at=now)
        await self._revoke_if_valid(old_access, now)
        lifetime = _expiry(old_access) - old_access.created_at
        secret, access = await self._add(
            user_id=user.user_id, expires_at=now + lifetime
        )
        return SessionGrant(
            username=user.username,
            credential_id=access.credential_id,
            access_token=secret,
            expires_at=_expiry(access),
            refresh_token=await self._refresh_token(access),
        )

    async def authenticate(self, access_token: str) -> Principal:
        """Return who an access token belongs to; a refresh token is refused.

        Raises:
            AuthenticationError: unknown, expired or revoked, or a refresh token.
        """
        return await self._auth.authenticate(access_token)

    async def logout(self, principal: Principal) -> None:
        """End the session the principal used, and its refresh tokens.

        Raises:
            ConflictError: the principal used an API key, not a session.
        """
        credential = await self._store.get_credential(principal.credential_id)
        if credential.kind is not CredentialKind.SESSION:
            msg = "Logging out ends a login session; this request used an API key"
            raise errors.ConflictError(msg)
        now = self._clock.now()
        bound = f"{_REFRESH_NAME}{credential.credential_id}"
        for other in await self._store.list_credentials(
            user_id=credential.user_id, kind=CredentialKind.REFRESH
        ):
            if other.name == bound:
                await self._revoke_if_valid(other, now)
        await self._auth.logout(principal)

    async def _refresh_token(self, access: Credential) -> str:
        secret, _ = await self._add(
            user_id=access.user_id,
            expires_at=self._clock.now() + self._refresh_lifetime,
            kind=CredentialKind.REFRESH,
            name=f"{_REFRESH_NAME}{access.credential_id}",
        )
        return secret

    async def _add(
        self,
        *,
        user_id: str,
        expires_at: datetime,
        kind: CredentialKind = CredentialKind.SESSION,
        name: str = "",
    ) -> tuple[str, Credential]:
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        credential = Credential(
            credential_id=new_id("ses"),
            kind=kind,
            user_id=user_id,
            secret_hash=hash_secret(secret),
            created_at=self._clock.now(),
            expires_at=expires_at,
            name=name,
        )
        await self._store.add_credential(credential)
        return secret, credential

    async def _revoke_if_valid(self, credential: Credential, now: datetime) -> None:
        if credential.revoked_at is None:
            await self._store.revoke_credential(credential.credential_id, at=now)


def _expiry(credential: Credential) -> datetime:
    """Return when a session expires (sessions always have an expiry)."""
    if credential.expires_at is None:
        msg = f"session {credential.credential_id} has no expiry"
        raise errors.StorageError(msg)
    return credential.expires_at
