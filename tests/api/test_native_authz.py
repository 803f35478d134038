"""The authorization matrix: every native route by every kind of caller.

Each route has a rule; each rule says what every caller gets (the exact success
status of the route, or 401/403/404). Callers: no credentials, a viewer, an
operator, an author and an admin of the workspace, an admin of another
workspace (who must not learn the workspace exists: 404), and a superuser.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

import httpx
import pytest
from fastapi import FastAPI
from native_helpers import API, add_user, settle

from onward.api.app import create_app
from onward.api.deps import Services
from onward.config import Settings
from onward.domain.access import Principal, Role
from onward.runtime import Runtime
from onward.service.commands import Caller
from onward.storage.memory import MemoryStore

CALLERS: Final = ("none", "viewer", "operator", "author", "admin", "other", "super")
OK: Final = 0  # stands for the route's own success status

#                       none  viewer operator author admin other super
RULES: Final[dict[str, tuple[int, ...]]] = {
    "public": (OK, OK, OK, OK, OK, OK, OK),
    "signed-in": (401, OK, OK, OK, OK, OK, OK),
    "read": (401, OK, OK, OK, OK, 404, OK),
    "operate": (401, 403, OK, OK, OK, 404, OK),
    "author": (401, 403, 403, OK, OK, 404, OK),
    "admin": (401, 403, 403, 403, OK, 404, OK),
    "superuser": (401, 403, 403, 403, 403, 403, OK),
}

WS: Final = "/api/v1/workspaces/default"
QUICK: Final = (
    "name: quick\ngroups: [{name: g, targets: [a], steps: [{name: s, action: noop}]}]\n"
)
FRESH: Final = QUICK.replace("quick", "fresh")
BROKEN_STEP: Final = (
    "{name: check, action: python, with: {function: 'json:no_such_function'}}"
)
APPROVAL_STEP: Final = "{name: ok, action: approval, with: {message: go}}"
GROUP: Final = "groups: [{{name: g, targets: [a], steps: [{}]}}]\n"
PLANS: Final = {
    "halted": "name: halting\n" + GROUP.format(BROKEN_STEP),
    "failed": "name: failing\non_critical_failure: fail\n" + GROUP.format(BROKEN_STEP),
    "waiting": "name: gated\n" + GROUP.format(APPROVAL_STEP),
}


@dataclass(frozen=True)
class Route:
    """One route, its rule, its success status and a request that succeeds."""

    rule: str
    ok: int
    method: str
    path: str
    json: Any = None
    yaml: str | None = None


ROUTES: Final = (
    Route("public", 200, "GET", "/healthz"),
    Route("signed-in", 200, "GET", "/metrics"),
    Route(
        "public",
        200,
        "POST",
        f"{API}/auth/login",
        json={"username": "pat", "password": "a long password"},
    ),
    Route("signed-in", 204, "POST", f"{API}/auth/logout"),
    Route("signed-in", 200, "GET", f"{API}/me"),
    Route("signed-in", 200, "GET", f"{API}/workspaces"),
    Route("superuser", 201, "POST", f"{API}/workspaces", json={"name": "new-ws"}),
    Route("read", 200, "GET", WS),
    Route("superuser", 200, "GET", f"{API}/users"),
    Route("superuser", 201, "POST", f"{API}/users", json={"username": "newbie"}),
    Route("superuser", 200, "GET", f"{API}/users/{{member}}"),
    Route(
        "superuser", 200, "PATCH", f"{API}/users/{{member}}", json={"disabled": True}
    ),
    Route("admin", 200, "GET", f"{WS}/members"),
    Route("admin", 200, "GET", f"{WS}/members/{{member}}"),
    Route("admin", 200, "PUT", f"{WS}/members/{{member}}", json={"role": "author"}),
    Route("admin", 204, "DELETE", f"{WS}/members/{{member}}"),
    Route("signed-in", 200, "GET", f"{API}/api-keys"),
    Route("signed-in", 201, "POST", f"{API}/api-keys", json={"name": "ci"}),
    Route("signed-in", 204, "DELETE", f"{API}/api-keys/{{key}}"),
    Route("signed-in", 200, "GET", f"{API}/access-keys"),
    Route("signed-in", 201, "POST", f"{API}/access-keys", json={"name": "sdk"}),
    Route("signed-in", 204, "DELETE", f"{API}/access-keys/{{access_key}}"),
    Route("read", 200, "GET", f"{WS}/plans"),
    Route("author", 201, "POST", f"{WS}/plans", yaml=FRESH),
    Route("read", 200, "POST", f"{WS}/plans/validate", yaml=FRESH),
    Route("read", 200, "GET", f"{WS}/plans/quick"),
    Route(
        "author", 201, "PUT", f"{WS}/plans/quick", yaml=QUICK.replace("[a]", "[a, b]")
    ),
    Route("author", 204, "DELETE", f"{WS}/plans/quick"),
    Route("author", 200, "POST", f"{WS}/plans/quick/enable"),
    Route("author", 200, "POST", f"{WS}/plans/quick/disable"),
    Route("read", 200, "GET", f"{WS}/plans/quick/versions"),
    Route("read", 200, "GET", f"{WS}/plans/quick/versions/1"),
    Route("operate", 202, "POST", f"{WS}/runs", json={"plan": "quick"}),
    Route("read", 200, "GET", f"{WS}/runs"),
    Route("read", 200, "GET", f"{WS}/runs/{{halted}}"),
    Route(
        "operate",
        202,
        "POST",
        f"{WS}/runs/{{halted}}/continue",
        json={"option": "proceed-step"},
    ),
    Route("operate", 202, "POST", f"{WS}/runs/{{failed}}/retry"),
    Route(
        "operate", 202, "POST", f"{WS}/runs/{{waiting}}/cancel", json={"force": True}
    ),
    Route("operate", 202, "POST", f"{WS}/runs/{{waiting}}/approve", json={}),
    Route("operate", 202, "POST", f"{WS}/runs/{{waiting}}/reject"),
    Route(
        "operate",
        202,
        "POST",
        f"{WS}/runs/{{halted}}/resume",
        json={"group": "g", "target": "a", "step": "check"},
    ),
    Route(
        "read",
        200,
        "POST",
        f"{WS}/runs/{{halted}}/preview",
        json={"command": "continue", "option": "retry-step"},
    ),
    Route("read", 200, "GET", f"{WS}/runs/{{halted}}/audit"),
    Route("read", 200, "GET", f"{WS}/runs/{{halted}}/logs"),
    Route("read", 200, "GET", f"{WS}/runs/{{failed}}/events"),
    Route("read", 200, "GET", f"{WS}/operations"),
    Route("read", 200, "GET", f"{WS}/operations/{{operation}}"),
    Route("operate", 202, "DELETE", f"{WS}/operations/{{operation}}"),
    Route("operate", 201, "POST", f"{WS}/dataclasses/alert/objects", json={"level": 1}),
    Route("read", 200, "GET", f"{WS}/dataclasses/alert/objects"),
)


class World:
    """The workspace, its callers and, when a route needs them, runs in every state."""

    def __init__(self, runtime: Runtime, app: FastAPI) -> None:
        self.runtime = runtime
        self.app = app
        self.headers: dict[str, dict[str, str]] = {"none": {}}
        self.values: dict[str, str] = {}

    async def populate(self) -> None:
        """Make the callers, a member to manage and the plan to run."""
        await self.runtime.auth.ensure_workspace("other")
        roles = {"viewer": Role.VIEWER, "operator": Role.OPERATOR}
        roles |= {"author": Role.AUTHOR, "admin": Role.ADMIN}
        for caller, role in roles.items():
            self.headers[caller] = await add_user(
                self.runtime, caller, roles={"default": role}
            )
        self.headers["other"] = await add_user(
            self.runtime, "other", roles={"other": Role.ADMIN}
        )
        self.headers["super"] = await add_user(self.runtime, "root", superuser=True)
        member = await self.runtime.auth.create_user("member")
        await self.runtime.auth.grant("member", "default", Role.VIEWER)
        self.values["member"] = member.user_id
        await self.runtime.commands.apply_plan(QUICK)

    async def prepare(self, route: Route, caller: str) -> str:
        """Make what the route needs; return its path filled in for the caller."""
        if route.path.endswith("/auth/login"):
            await self.runtime.auth.create_user("pat", "a long password")
        return await self.path(route, caller)

    async def path(self, route: Route, caller: str) -> str:
        """Return the route's path with its placeholders filled in for a caller."""
        path = route.path
        for name in re.findall(r"\{(\w+)\}", route.path):
            path = path.replace(f"{{{name}}}", await self._value(name, caller))
        return path

    async def _value(self, name: str, caller: str) -> str:
        if name == "key":
            return await self._own_key(caller)
        if name == "access_key":
            return await self._own_access_key(caller)
        if name not in self.values:
            run_of = "waiting" if name == "operation" else name
            await self.runtime.commands.apply_plan(PLANS[run_of])
            plan = PLANS[run_of].split("\n", 1)[0].removeprefix("name: ")
            view = await self.app.state.services.operations.start_run(
                Caller(actor="setup"), plan
            )
            await settle(self.runtime)
            self.values[run_of] = view.run.run_id
            self.values["operation"] = view.operation.operation_id
        return self.values[name]

    async def _principal(self, caller: str) -> Principal:
        secret = self.headers[caller]["Authorization"].removeprefix("Bearer ")
        return await self.runtime.auth.authenticate(secret)

    async def _own_key(self, caller: str) -> str:
        if caller == "none":
            return "key_whatever"
        principal = await self._principal(caller)
        issued = await self.runtime.auth.create_api_key(principal, name="spare")
        return issued.credential.credential_id

    async def _own_access_key(self, caller: str) -> str:
        if caller == "none":
            return "ONWWHATEVER000000000"
        keys = self.app.state.services.access_keys
        issued = await keys.create(await self._principal(caller), name="spare")
        return str(issued.access_key_id)


@pytest.fixture(scope="module")
def shared_app() -> FastAPI:
    """Return one app for the whole matrix (an app's first request is slow)."""
    return create_app(Runtime.open(Settings(), executes=False, store=MemoryStore()))


@pytest.fixture
async def app(shared_app: FastAPI, runtime: Runtime) -> AsyncIterator[FastAPI]:
    """Yield the shared app serving this test's fresh, started runtime."""
    shared_app.state.runtime = runtime
    shared_app.state.services = Services.build(runtime)
    await runtime.start()
    try:
        yield shared_app
    finally:
        await runtime.close()


@pytest.fixture
async def world(runtime: Runtime, app: FastAPI) -> World:
    """Return a populated world."""
    made = World(runtime, app)
    await made.populate()
    return made


def test_the_matrix_covers_every_route_of_the_app(app: FastAPI) -> None:
    """Every native operation of the document has one row, and every row a route."""
    documented = [
        (method.upper(), re.compile(re.sub(r"\{\w+\}", "[^/]+", path) + "$"))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if path.startswith((API, "/healthz", "/metrics"))
    ]
    rows = [(r.method, re.sub(r"\{\w+\}", "x", r.path)) for r in ROUTES]
    matches = [
        [(m, p) for m, p in rows if m == method and pattern.match(p)]
        for method, pattern in documented
    ]

    assert [len(found) for found in matches] == [1] * len(documented)
    assert len(rows) == len(documented)


@pytest.mark.parametrize(
    "route", ROUTES, ids=[f"{r.method} {r.path.removeprefix(API)}" for r in ROUTES]
)
@pytest.mark.parametrize("caller", CALLERS)
async def test_each_caller_gets_what_the_route_rule_says(
    world: World, client: httpx.AsyncClient, route: Route, caller: str
) -> None:
    """The caller is allowed (the route's success status) or denied as specified."""
    expected = RULES[route.rule][CALLERS.index(caller)] or route.ok
    headers = dict(world.headers[caller])
    content = None
    if route.yaml is not None:
        headers["Content-Type"] = "application/yaml"
        content = route.yaml
    response = await client.request(
        route.method,
        await world.prepare(route, caller),
        json=route.json,
        content=content,
        headers=headers,
    )

    assert response.status_code == expected, response.text
