"""
Access keys: an access key id and a secret key for HMAC-signed requests.

A signed request carries the access key id in clear and an HMAC-SHA256 of the
request made with the secret key, so the server must know the secret key.
Onward stores none: a secret key is derived from the server's master secret
(setting ``access_key_master``) and the access key id, as
``base32(HMAC-SHA256(master, "onward.access-key.v1:" + id)[:25])`` (40
characters), and shown once when the key is made. The database alone therefore
reveals no secret key. Rotating the master secret invalidates every secret key.

An access key is a credential of kind ``access_key`` (id = access key id), with
the same owner, expiry, revocation and workspace/role limits as an API key
(``service.access``: a superuser may list and make other users' keys too); it is
never accepted as a bearer secret. Without a master secret, access keys are off:
making one is refused and signed requests fail authentication; existing keys can
still be listed and revoked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from onward import errors
from onward.clock import Clock
from onward.domain.access import Credential, CredentialKind, Principal, Role
from onward.service.access import AccessService
from onward.service.auth import AuthService, hash_secret, within_limits
from onward.service.ports import AccessStore

_DERIVATION: Final = b"onward.access-key.v1:"
_ID_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_ID_PREFIX: Final = "ONW"
_ID_LENGTH: Final = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedAccessKey:
    """An access key id with its secret key (shown once) and its credential."""

    access_key_id: str
    secret_key: str
    credential: Credential


class AccessKeys:
    """Makes, lists and revokes access keys, and verifies request signatures."""

    def __init__(
        self,
        *,
        store: AccessStore,
        auth: AuthService,
        clock: Clock,
        master: str | None,
    ) -> None:
        self._store = store
        self._auth = auth
        self._clock = clock
        self._master = master.encode() if master else None
        self._access = AccessService(store=store, auth=auth, clock=clock)

    async def create(
        self,
        principal: Principal,
        *,
        name: str,
        workspace: str | None = None,
        role: Role | None = None,
        expires_in: timedelta | None = None,
        user: str | None = None,
    ) -> IssuedAccessKey:
        """Make an access key acting as the principal, within its key's limits.

        A superuser may make one acting as another ``user``. A key limited to
        a workspace needs its user to have a role there; a key made with a
        limited key is held to that key's limits (its role lowered to them).

        Raises:
            AccessKeysOffError: the server has no master secret.
            WorkspaceNotFoundError: the owner has no role in ``workspace``, or
                the principal's key is limited to another workspace.
            SuperuserRequiredError: ``user`` is another user and the principal
                is no unlimited superuser.
            UserNotFoundError: no such ``user``.
        """
        master = self._require_master()
        owner = await self._access.key_owner(principal, user, workspace=workspace)
        workspace, role = within_limits(owner, workspace, role)
        access_key_id = _ID_PREFIX + "".join(
            secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH - len(_ID_PREFIX))
        )
        now = self._clock.now()
        credential = Credential(
            credential_id=access_key_id,
            kind=CredentialKind.ACCESS_KEY,
            user_id=owner.user_id,
            secret_hash=hash_secret(access_key_id),
            created_at=now,
            expires_at=now + expires_in if expires_in else None,
            workspace=workspace,
            role=role,
            name=name,
        )
        await self._store.add_credential(credential)
        return IssuedAccessKey(
            access_key_id=access_key_id,
            secret_key=_secret_key(master, access_key_id),
            credential=credential,
        )

    async def list_keys(
        self, principal: Principal, *, user: str | None = None
    ) -> list[Credential]:
        """Return the principal's access keys, revoked ones included.

        A superuser may list another ``user``'s.
        """
        return await self._access.list_keys(
            principal, CredentialKind.ACCESS_KEY, user=user
        )

    async def revoke(self, principal: Principal, access_key_id: str) -> None:
        """Revoke one of the principal's access keys (anyone's, for a superuser).

        Raises:
            CredentialNotFoundError: no such access key of the principal's (an
                API key or session id is not an access key).
        """
        await self._auth.revoke(
            principal, access_key_id, kind=CredentialKind.ACCESS_KEY
        )

    async def verify(
        self, access_key_id: str, message: bytes, signature: str
    ) -> Principal:
        """Return who signed ``message``; raise AuthenticationError.

        Args:
            access_key_id: the key the request names.
            message: what was signed (the protocol's string to sign).
            signature: the hex HMAC-SHA256 of ``message`` the request carries.
        """
        if self._master is None:
            msg = "Signed requests are off on this server (no access_key_master)"
            raise errors.AuthenticationError(msg)
        try:
            credential = await self._store.get_credential(access_key_id)
        except errors.CredentialNotFoundError:
            credential = None
        expected = hmac.new(
            _secret_key(self._master, access_key_id).encode(),
            message,
            hashlib.sha256,
        ).hexdigest()
        if (
            credential is None
            or credential.kind is not CredentialKind.ACCESS_KEY
            or not credential.is_valid(self._clock.now())
            or not hmac.compare_digest(expected, signature.lower())
        ):
            msg = "Unknown, expired or revoked access key, or a wrong signature"
            raise errors.AuthenticationError(msg)
        return await self._auth.principal_of(credential)

    def _require_master(self) -> bytes:
        if self._master is None:
            raise errors.AccessKeysOffError
        return self._master


def _secret_key(master: bytes, access_key_id: str) -> str:
    digest = hmac.new(master, _DERIVATION + access_key_id.encode(), hashlib.sha256)
    return base64.b32encode(digest.digest()[:25]).decode()
