"""Helpers of the console tests: plans, a signed-in HTTP client, waiting for runs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import httpx

from onward.runtime import Runtime
from onward.service.commands import Caller

PASSWORD: Final = "correct horse battery"  # noqa: S105 - a test account's password
#: one target fails its critical step every time: the run halts at (g, b, check)
HALTING_PLAN: Final = """\
name: halting
groups:
  - name: g
    targets: [a, b]
    steps:
      - {name: greet, action: shell, with: {command: "echo hello {{ target.name }}"}}
      - {name: check, action: shell, with: {command: "test {{ target.name }} != b"}}
"""
#: the same failure ends the run failed (it can be retried)
FAILING_PLAN: Final = """\
name: failing
on_critical_failure: fail
groups:
  - name: g
    targets: [a]
    steps:
      - {name: check, action: shell, with: {command: "exit 1"}}
"""
#: an approval step keeps the run waiting
APPROVAL_PLAN: Final = """\
name: gated
groups:
  - name: g
    targets: [a]
    steps:
      - {name: approve, action: approval, with: {message: "go?"}}
      - {name: after, action: noop}
"""
#: typed parameters, for the start form
PARAMS_PLAN: Final = """\
name: typed
params:
  count: {type: integer, required: true}
  dry_run: {type: boolean, default: false}
  site: {type: string, choices: [east, west], default: east}
  at: {type: datetime}
groups:
  - name: g
    targets: [a]
    steps:
      - {name: one, action: noop}
"""
_TOKEN: Final = re.compile(r'name="csrf_token" value="([^"]*)"')
_HEADER_TOKEN: Final = re.compile(r'"X-CSRF-Token": "([0-9a-f]+)"')


@dataclass
class Browser:
    """An HTTP client with a signed-in session, sending forms as a browser does."""

    client: httpx.AsyncClient
    csrf: str = ""

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET a page."""
        return await self.client.get(url, **kwargs)

    async def post(
        self, url: str, data: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """POST a form with the session's CSRF token."""
        return await self.client.post(
            url, data={"csrf_token": self.csrf, **(data or {})}, **kwargs
        )


def form_token(page: str) -> str:
    """Return the CSRF token of the first form of a page."""
    found = _TOKEN.search(page)
    assert found is not None, page
    return found.group(1)


async def log_in(client: httpx.AsyncClient, username: str, password: str) -> str:
    """Sign in through the login form; return the session's CSRF token."""
    form = await client.get("/login")
    answer = await client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": form_token(form.text),
            "next": "/",
        },
    )
    assert answer.status_code == 303, answer.text
    page = await client.get("/w/default/plans")
    found = _HEADER_TOKEN.search(page.text)
    return found.group(1) if found else ""


async def settle(runtime: Runtime) -> None:
    """Wait until the runtime has no step left to run."""
    assert runtime.executor is not None
    await runtime.executor.drain()


async def started(runtime: Runtime, text: str, **params: Any) -> str:
    """Apply a plan, start a run of it, let it settle; return the run id."""
    caller = Caller(actor="setup")
    plan = await runtime.commands.apply_plan(text, caller=caller)
    run = await runtime.commands.start_run(plan.name, params=params, caller=caller)
    await settle(runtime)
    return run.run_id
