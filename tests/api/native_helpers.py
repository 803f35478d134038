"""Helpers of the native API tests: users with sessions, plans, waiting for runs."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Final

import httpx

from onward.domain.access import Credential, CredentialKind, Role, RoleBinding
from onward.runtime import Runtime
from onward.service.auth import SECRET_PREFIX, hash_secret

API: Final = "/api/v1"
#: the server's master secret of access keys (AK/SK) in these tests
ACCESS_KEY_MASTER: Final = "api-test-master-secret-0123456789ab"

#: one target fails its critical step: the run halts at (g, b, check)
HALTING_PLAN: Final = """
name: halting
groups:
  - name: g
    targets: [a, b]
    steps:
      - {name: greet, action: shell, with: {command: "echo hello {{ target.name }}"}}
      - {name: check, action: shell, with: {command: "test {{ target.name }} != b"}}
"""
#: the same failure ends the run failed (it can be retried)
FAILING_PLAN: Final = """
name: failing
on_critical_failure: fail
groups:
  - name: g
    targets: [a]
    steps:
      - {name: check, action: shell, with: {command: "exit 1"}}
"""
#: an approval step keeps the run waiting
APPROVAL_PLAN: Final = """
name: gated
groups:
  - name: g
    targets: [a]
    steps:
      - {name: approve, action: approval, with: {message: "go?"}}
      - {name: after, action: noop}
"""
#: every step succeeds at once
QUICK_PLAN: Final = """
name: quick
groups:
  - name: g
    targets: [a, b]
    steps:
      - {name: one, action: noop}
      - {name: two, action: shell, with: {command: "echo done"}}
"""


async def apply_yaml(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    text: str,
    *,
    workspace: str = "default",
) -> httpx.Response:
    """Post a YAML plan to a workspace and return the answer."""
    return await client.post(
        f"{API}/workspaces/{workspace}/plans",
        content=text,
        headers={**headers, "Content-Type": "application/yaml"},
    )


async def add_user(
    runtime: Runtime,
    username: str,
    *,
    roles: dict[str, Role] | None = None,
    superuser: bool = False,
) -> dict[str, str]:
    """Create a user with roles and a session; return its Authorization header."""
    user = await runtime.auth.create_user(username, superuser=superuser)
    for workspace, role in (roles or {}).items():
        await runtime.auth.ensure_workspace(workspace)
        await runtime.store.put_binding(
            RoleBinding(workspace=workspace, user_id=user.user_id, role=role)
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(16)
    now = runtime.engine.clock.now()
    await runtime.store.add_credential(
        Credential(
            credential_id=f"ses_{username}",
            kind=CredentialKind.SESSION,
            user_id=user.user_id,
            secret_hash=hash_secret(secret),
            created_at=now,
            expires_at=now + timedelta(hours=1),
        )
    )
    return {"Authorization": f"Bearer {secret}"}


async def settle(runtime: Runtime) -> None:
    """Wait until the runtime has no step left to run."""
    assert runtime.executor is not None
    await runtime.executor.drain()
