"""The console refuses a form over its limit, or the app's, with its own 413 page."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final
from urllib.parse import urlencode

import httpx
import pytest
from console_helpers import HALTING_PLAN, Browser, started
from structlog.testing import capture_logs

from onward.config import Settings
from onward.domain.access import Role
from onward.runtime import Runtime
from onward.storage.memory import MemoryStore
from onward.ui import forms

#: the app's request body limit in these tests, in bytes
LIMIT: Final = 4096
URLENCODED: Final = {"Content-Type": "application/x-www-form-urlencoded"}

BrowserFactory = Callable[..., Awaitable[Browser]]


@pytest.fixture
def runtime() -> Runtime:
    """Return a runtime whose app reads request bodies of LIMIT bytes at most."""
    settings = Settings(
        concurrency=4, heartbeat_timeout=60, shutdown_grace=1, max_request_body=LIMIT
    )
    return Runtime.open(settings, executes=True, store=MemoryStore())


def plan_form(csrf: str, size: int) -> bytes:
    """Return a form saving HALTING_PLAN, of exactly ``size`` bytes (padded)."""
    fields = {"csrf_token": csrf, "source": HALTING_PLAN + "#"}
    short = len(urlencode(fields).encode())
    fields["source"] += "x" * (size - short)
    body = urlencode(fields).encode()
    assert len(body) == size
    return body


async def in_chunks(body: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    """Yield a body in chunks: sent without Content-Length (chunked)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def assert_error_page(answer: httpx.Response, message: str) -> None:
    """Check the console's 413 page: HTML, the status and the message shown."""
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "<strong>413</strong>" in answer.text
    assert message in answer.text


async def test_a_form_declared_over_the_limit_is_the_consoles_413_page(
    browser_factory: BrowserFactory,
) -> None:
    """A Content-Length over the app's limit: the form's 413, naming the limit."""
    browser = await browser_factory("ada", Role.AUTHOR)
    answer = await browser.client.post(
        "/w/default/plans",
        content=plan_form(browser.csrf, LIMIT + 1),
        headers=URLENCODED,
    )

    assert_error_page(answer, f"The form is larger than the limit of {LIMIT} bytes.")


async def test_a_form_sent_in_chunks_over_the_limit_is_a_413_page(
    browser_factory: BrowserFactory,
) -> None:
    """Without Content-Length the body is counted as read: a 413 page, not a problem."""
    browser = await browser_factory("ada", Role.AUTHOR)
    answer = await browser.client.post(
        "/w/default/plans",
        content=in_chunks(plan_form(browser.csrf, LIMIT + 1)),
        headers=URLENCODED,
    )

    assert_error_page(answer, f"than the limit of {LIMIT} bytes.")


async def test_the_login_form_is_limited_too(anonymous: httpx.AsyncClient) -> None:
    """Before sign-in, a form over the limit is the same 413 page."""
    answer = await anonymous.post(
        "/login", content=in_chunks(b"username=" + b"a" * LIMIT), headers=URLENCODED
    )

    assert_error_page(answer, f"than the limit of {LIMIT} bytes.")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_form_of_the_limits_size_saves_the_plan(
    browser_factory: BrowserFactory, chunked: bool
) -> None:
    """A form of exactly the limit is read and saved as before."""
    browser = await browser_factory("ada", Role.AUTHOR)
    body = plan_form(browser.csrf, LIMIT)
    answer = await browser.client.post(
        "/w/default/plans",
        content=in_chunks(body) if chunked else body,
        headers=URLENCODED,
    )

    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/w/default/plans/halting?version=1&saved=1"


async def test_the_consoles_own_limit_holds_below_the_apps(
    browser_factory: BrowserFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A form limit lower than the app's is the one applied, and named."""
    monkeypatch.setattr(forms, "MAX_FORM_BYTES", LIMIT // 2)
    browser = await browser_factory("ada", Role.AUTHOR)
    answer = await browser.client.post(
        "/w/default/plans",
        content=plan_form(browser.csrf, LIMIT // 2 + 1),
        headers=URLENCODED,
    )

    assert_error_page(
        answer, f"The form is larger than the limit of {LIMIT // 2} bytes."
    )


async def test_a_live_stream_sent_a_body_over_the_limit_is_a_413_page(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """A halted run's stream, asked for with too big a body: the 413 page, no stream."""
    run_id = await started(runtime, HALTING_PLAN)
    browser = await browser_factory("vera", Role.VIEWER)
    with capture_logs() as logs:
        async with asyncio.timeout(10):
            answer = await browser.client.request(
                "GET", f"/w/default/runs/{run_id}/events", content=b"x" * (LIMIT + 1)
            )

    assert_error_page(answer, f"than the limit of {LIMIT} bytes.")
    assert [entry for entry in logs if entry["log_level"] == "error"] == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_static_file_asked_for_with_too_big_a_body_is_a_413(
    anonymous: httpx.AsyncClient, chunked: bool
) -> None:
    """A static file is no page: Onward's own 413 problem, before the file is sent."""
    body = b"x" * (LIMIT + 1)
    with capture_logs() as logs:
        answer = await anonymous.request(
            "GET", "/static/console.css", content=in_chunks(body) if chunked else body
        )

    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "content-too-large"
    assert [entry for entry in logs if entry["log_level"] == "error"] == []


async def test_a_static_file_is_served_as_before(anonymous: httpx.AsyncClient) -> None:
    """Without a body (or a small one), the file is answered."""
    answer = await anonymous.request("GET", "/static/console.css", content=b"x")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")
