"""The native API refuses a request body over the limit with a 413 problem."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final

import httpx
import pytest
import structlog
from native_helpers import API, QUICK_PLAN, add_user, apply_yaml

from onward.domain.access import Role
from onward.runtime import Runtime

#: the limit of these tests' app, in bytes
LIMIT: Final = 4096
WS: Final = f"{API}/workspaces/default"
DETAIL: Final = f"The request body is larger than the limit of {LIMIT} bytes."


@pytest.fixture
def max_request_body() -> int:
    """Return the limit of these tests' app: LIMIT bytes."""
    return LIMIT


@pytest.fixture
async def author(runtime: Runtime) -> dict[str, str]:
    """Return the Authorization header of an author of the default workspace."""
    return await add_user(runtime, "ann", roles={"default": Role.AUTHOR})


def padded_plan(size: int) -> bytes:
    """Return QUICK_PLAN as YAML of exactly ``size`` bytes (a comment fills it)."""
    text = QUICK_PLAN.encode()
    return text + b"#" * (size - len(text) - 1) + b"\n"


async def in_chunks(body: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    """Yield a body in chunks: sent without Content-Length (chunked)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def as_sent(body: bytes, *, chunked: bool) -> Any:
    """Return the content to send: the bytes (Content-Length) or their chunks."""
    return in_chunks(body) if chunked else body


def assert_too_large(response: httpx.Response, path: str) -> None:
    """Check the 413 problem: its code, the limit named, the path."""
    assert response.status_code == 413, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "urn:onward:problem:content-too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": DETAIL,
        "instance": path,
        "code": "content-too-large",
        "limit": LIMIT,
    }


#: requests whose body the API reads: a plan text, a JSON field, a login
REQUESTS: Final[list[tuple[str, str, str]]] = [
    ("plan upload", f"{WS}/plans", "application/yaml"),
    ("run start", f"{WS}/runs", "application/json"),
    ("login", f"{API}/auth/login", "application/json"),
]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    ("path", "media"), [r[1:] for r in REQUESTS], ids=[r[0] for r in REQUESTS]
)
async def test_a_body_over_the_limit_is_a_413_problem_naming_it(
    client: httpx.AsyncClient,
    author: dict[str, str],
    path: str,
    media: str,
    chunked: bool,
) -> None:
    """A byte over the limit, declared or sent in chunks, is a 413 (no error logged)."""
    body = padded_plan(LIMIT + 1)
    with structlog.testing.capture_logs() as logs:
        response = await client.post(
            path,
            content=as_sent(body, chunked=chunked),
            headers={**author, "Content-Type": media},
        )

    assert_too_large(response, path)
    assert [entry for entry in logs if entry["log_level"] == "error"] == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    "path", ["/healthz", f"{WS}/runs", f"{WS}/runs/run_nowhere/events"]
)
async def test_a_body_over_the_limit_is_refused_where_none_is_read(
    client: httpx.AsyncClient, author: dict[str, str], path: str, chunked: bool
) -> None:
    """A GET reads no body, an event stream neither: still a 413, before anything."""
    body = b"x" * (LIMIT + 1)
    with structlog.testing.capture_logs() as logs:
        response = await client.request(
            "GET", path, content=as_sent(body, chunked=chunked), headers=author
        )

    assert_too_large(response, path)
    assert [entry for entry in logs if entry["log_level"] == "error"] == []


@pytest.mark.parametrize("declared", ["4097", "0004097", "9" * 5000])
async def test_a_declared_length_over_the_limit_is_refused_unread(
    client: httpx.AsyncClient, author: dict[str, str], declared: str
) -> None:
    """Content-Length alone decides, however many digits it has: 413, never 500."""
    response = await client.post(
        f"{WS}/plans",
        content=b"name: x",
        headers={
            **author,
            "Content-Type": "application/yaml",
            "Content-Length": declared,
        },
    )

    assert_too_large(response, f"{WS}/plans")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_refused_plan_is_not_stored(
    runtime: Runtime, client: httpx.AsyncClient, author: dict[str, str], chunked: bool
) -> None:
    """A plan text over the limit is refused before it is applied."""
    response = await client.post(
        f"{WS}/plans",
        content=as_sent(padded_plan(2 * LIMIT), chunked=chunked),
        headers={**author, "Content-Type": "application/yaml"},
    )

    assert response.status_code == 413
    assert await runtime.store.list_plans(workspace="default") == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_plan_of_the_limits_size_is_applied(
    client: httpx.AsyncClient, author: dict[str, str], chunked: bool
) -> None:
    """A body of exactly the limit is read and processed as before."""
    response = await client.post(
        f"{WS}/plans",
        content=as_sent(padded_plan(LIMIT), chunked=chunked),
        headers={**author, "Content-Type": "application/yaml"},
    )

    assert response.status_code == 201, response.text
    assert response.json()["name"] == "quick"


async def test_a_small_plan_is_applied_as_before(
    client: httpx.AsyncClient, author: dict[str, str]
) -> None:
    """The limit leaves ordinary bodies alone."""
    response = await apply_yaml(client, author, QUICK_PLAN)

    assert response.status_code == 201, response.text


async def test_the_document_names_the_413_of_operations_that_read_a_body(
    client: httpx.AsyncClient,
) -> None:
    """Every POST, PUT, PATCH and DELETE documents the 413; a GET does not."""
    document = (await client.get(f"{API}/openapi.json")).json()
    statuses = {
        method: ["413" in operation["responses"] for operation in found]
        for method in ("post", "put", "patch", "delete", "get")
        if (found := [p[method] for p in document["paths"].values() if method in p])
    }

    assert statuses.keys() == {"post", "put", "patch", "delete", "get"}
    assert all(all(statuses[m]) for m in ("post", "put", "patch", "delete"))
    assert not any(statuses["get"])
    assert document["components"]["schemas"]["Problem"]["properties"]["limit"]
