"""Access keys (AK/SK) through the native API: made, listed, revoked, and signing.

A key made by ``POST /api/v1/access-keys`` must sign SecMaster requests as the
official SDK's signer does; the requests go to the same app in process.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Final

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from native_helpers import API, add_user

from onward.api.app import create_app
from onward.config import Settings
from onward.domain.access import Role
from onward.runtime import Runtime
from onward.storage.memory import MemoryStore

KEYS: Final = f"{API}/access-keys"
PROJECT: Final = "0123456789abcdef0123456789abcdef"
PROBLEM: Final = "application/problem+json"
BASE: Final = "http://onward"


def instances(workspace: str = "default") -> str:
    """Return the SecMaster path of a workspace's playbook instances."""
    return f"/v1/{PROJECT}/workspaces/{workspace}/soc/playbooks/instances"


async def signed_list(
    client: httpx.AsyncClient, key: dict[str, Any], workspace: str = "default"
) -> httpx.Response:
    """List a workspace's playbook instances, signed with a key's AK/SK by the SDK."""
    request = SdkRequest(
        method="GET",
        schema="http",
        host=BASE.removeprefix("http://"),
        resource_path=instances(workspace),
        query_params=[("limit", 5), ("offset", 0)],
        header_params={"Content-Type": "application/json"},
    )
    credentials = BasicCredentials(key["access_key_id"], key["secret_key"])
    done = Signer(credentials).sign(request)
    return await client.get(done.uri, headers=dict(done.header_params))


@pytest.fixture
async def operator(runtime: Runtime) -> dict[str, str]:
    """Return the Authorization header of an operator of the default workspace."""
    return await add_user(runtime, "opal", roles={"default": Role.OPERATOR})


async def make_key(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    """Make an access key (named ``sdk`` unless given) and return the answer."""
    made = await client.post(KEYS, json={"name": "sdk", **body}, headers=headers)
    assert made.status_code == 201, made.text
    answer: dict[str, Any] = made.json()
    return answer


async def test_a_new_access_key_signs_secmaster_requests(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """The answer's AK/SK, shown once, sign a request the SecMaster dialect accepts."""
    key = await make_key(client, operator)
    listed = await signed_list(client, key)

    assert key["access_key_id"].startswith("ONW")
    assert len(key["access_key_id"]) == 20
    assert len(key["secret_key"]) == 40
    assert key["name"] == "sdk"
    assert (key["workspace"], key["role"], key["expires_at"]) == (None, None, None)
    assert key["revoked_at"] is None
    assert listed.status_code == 200, listed.text
    assert listed.json()["count"] == 0


async def test_the_list_shows_the_caller_s_keys_without_their_secret(
    runtime: Runtime, client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """GET lists the caller's own access keys only, never a secret key."""
    key = await make_key(client, operator, expires_in=3600)
    other = await add_user(runtime, "otto", roles={"default": Role.VIEWER})
    await make_key(client, other, name="otto's")
    listed = await client.get(KEYS, headers=operator)
    api_keys = await client.get(f"{API}/api-keys", headers=operator)

    assert listed.status_code == 200
    assert [k["access_key_id"] for k in listed.json()["access_keys"]] == [
        key["access_key_id"]
    ]
    assert "secret_key" not in listed.json()["access_keys"][0]
    assert key["secret_key"] not in listed.text
    assert listed.json()["access_keys"][0]["expires_at"] == key["expires_at"]
    assert api_keys.json()["api_keys"] == []


async def test_a_revoked_access_key_no_longer_signs(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """DELETE answers 204; the key's signed requests are then a SecMaster 401."""
    key = await make_key(client, operator)
    before = await signed_list(client, key)
    revoked = await client.delete(f"{KEYS}/{key['access_key_id']}", headers=operator)
    after = await signed_list(client, key)
    listed = await client.get(KEYS, headers=operator)

    assert before.status_code == 200
    assert revoked.status_code == 204
    assert after.status_code == 401
    assert after.json()["code"] == "SecMaster.00040101"
    assert listed.json()["access_keys"][0]["revoked_at"] is not None


async def test_unknown_and_other_kinds_of_keys_are_not_found(
    runtime: Runtime, client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """An API key id is no access key and the reverse: 404, and both still work."""
    access_key = await make_key(client, operator)
    api_key = (
        await client.post(f"{API}/api-keys", json={"name": "ci"}, headers=operator)
    ).json()
    stranger = await add_user(runtime, "sam", roles={"default": Role.ADMIN})
    answers = [
        await client.delete(f"{KEYS}/{api_key['key_id']}", headers=operator),
        await client.delete(
            f"{API}/api-keys/{access_key['access_key_id']}", headers=operator
        ),
        await client.delete(f"{KEYS}/ONWNOSUCHKEY00000000", headers=operator),
        await client.delete(f"{KEYS}/{access_key['access_key_id']}", headers=stranger),
    ]
    me = await client.get(
        f"{API}/me", headers={"Authorization": f"Bearer {api_key['secret']}"}
    )
    signed = await signed_list(client, access_key)

    assert [a.status_code for a in answers] == [404] * 4
    assert all(a.headers["Content-Type"] == PROBLEM for a in answers)
    assert {a.json()["code"] for a in answers} == {"not-found"}
    assert me.status_code == 200
    assert signed.status_code == 200


@contextlib.asynccontextmanager
async def client_of(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client of a started app over the runtime."""
    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://onward"
        ) as c:
            yield c


async def test_access_keys_off_is_a_409_naming_the_setting() -> None:
    """A server without a master secret refuses to make keys, saying what to set."""
    settings = Settings(heartbeat_timeout=60, shutdown_grace=1, access_key_master=None)
    runtime = Runtime.open(settings, executes=False, store=MemoryStore())
    headers = await add_user(runtime, "opal", roles={"default": Role.OPERATOR})
    async with client_of(runtime) as client:
        made = await client.post(KEYS, json={"name": "sdk"}, headers=headers)
        listed = await client.get(KEYS, headers=headers)

    assert made.status_code == 409
    assert made.headers["Content-Type"] == PROBLEM
    assert made.json()["code"] == "conflict"
    assert "ONWARD_ACCESS_KEY_MASTER" in made.json()["detail"]
    assert listed.json() == {"access_keys": []}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "k" * 129}, "name"),
        ({"name": ""}, "name"),
        ({"name": "k", "role": "boss"}, "role"),
        ({"name": "k", "expires_in": -1}, "expires_in"),
        ({"name": "k", "workspace": "w" * 65}, "workspace"),
        ({"name": "k", "scope": "all"}, "scope"),
    ],
    ids=["long-name", "empty-name", "role", "lifetime", "workspace", "unknown"],
)
async def test_a_bad_body_is_a_422_naming_the_field(
    client: httpx.AsyncClient,
    operator: dict[str, str],
    body: dict[str, Any],
    field: str,
) -> None:
    """Each invalid field is a 422 problem whose errors name it; no key is made."""
    answer = await client.post(KEYS, json=body, headers=operator)
    listed = await client.get(KEYS, headers=operator)

    assert answer.status_code == 422
    assert answer.headers["Content-Type"] == PROBLEM
    assert answer.json()["code"] == "invalid"
    assert [e["path"] for e in answer.json()["errors"]] == [field]
    assert listed.json()["access_keys"] == []


async def test_an_idempotent_replay_answers_the_key_without_its_secret(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """The same request with the same key makes one key; the replay hides the SK."""
    headers = {**operator, "Idempotency-Key": "make-sdk-key"}
    first = await client.post(KEYS, json={"name": "sdk"}, headers=headers)
    again = await client.post(KEYS, json={"name": "sdk"}, headers=headers)
    reused = await client.post(KEYS, json={"name": "other"}, headers=headers)
    listed = await client.get(KEYS, headers=operator)

    assert first.status_code == again.status_code == 201
    assert first.json()["secret_key"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "secret_key": None}
    assert reused.json()["code"] == "idempotency-key-reused"
    assert len(listed.json()["access_keys"]) == 1


async def test_an_api_key_caller_makes_access_keys_within_its_limits(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """A viewer key of one workspace makes viewer access keys of that workspace."""
    admin = await add_user(
        runtime, "ada", roles={"default": Role.ADMIN, "other": Role.ADMIN}
    )
    limited = await client.post(
        f"{API}/api-keys",
        json={"name": "dash", "workspace": "default", "role": "viewer"},
        headers=admin,
    )
    by_key = {"Authorization": f"Bearer {limited.json()['secret']}"}
    key = await make_key(client, by_key, role="admin")
    elsewhere = await client.post(
        KEYS, json={"name": "x", "workspace": "other"}, headers=by_key
    )
    no_role = await client.post(
        KEYS, json={"name": "x", "workspace": "nowhere"}, headers=admin
    )
    reads = await signed_list(client, key)
    reads_other = await signed_list(client, key, "other")

    assert (key["workspace"], key["role"]) == ("default", "viewer")
    assert elsewhere.status_code == 404
    assert no_role.status_code == 404
    assert reads.status_code == 200
    assert reads_other.status_code == 404
    assert reads_other.json()["code"] == "SecMaster.00040401"


async def test_a_superuser_makes_and_lists_access_keys_for_a_service_account(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """``user`` names the owner (superusers); others may not see anyone else's."""
    root = await add_user(runtime, "root", superuser=True)
    bot = await add_user(runtime, "ci-bot", roles={"default": Role.OPERATOR})
    key = await make_key(client, root, user="ci-bot")
    listed = await client.get(KEYS, params={"user": "ci-bot"}, headers=root)
    own = await client.get(KEYS, headers=bot)
    others = await client.get(KEYS, params={"user": "root"}, headers=bot)
    for_root = await client.post(KEYS, json={"name": "x", "user": "root"}, headers=bot)
    signed = await signed_list(client, key)

    assert [k["access_key_id"] for k in listed.json()["access_keys"]] == [
        key["access_key_id"]
    ]
    assert own.json() == listed.json()
    assert others.status_code == 403
    assert for_root.status_code == 403
    assert signed.status_code == 200
