"""Property-based tests from the OpenAPI document: no input yields a 5xx.

Schemathesis generates valid and invalid requests for every operation of
``/api/v1/openapi.json`` of an in-process app, signed in as a superuser, in the
``default`` workspace, against a plan and a failed run that exist (so that
requests reach the services rather than stopping at a 404). Every answer must
not be a server error, and must conform to the document: a documented status,
content type and schema.

``ONWARD_SCHEMATHESIS_EXAMPLES`` sets the examples per operation (default 10;
CI may raise it).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Final

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from onward.api.app import create_app
from onward.config import Settings
from onward.domain.access import Principal
from onward.runtime import Runtime
from onward.storage.memory import MemoryStore

EXAMPLES: Final = int(os.environ.get("ONWARD_SCHEMATHESIS_EXAMPLES", "10"))
PLAN: Final = (
    "name: failing\non_critical_failure: fail\n"
    "params: {ticket: {type: string, required: false}}\n"
    "groups: [{name: g, targets: [a], steps: "
    "[{name: check, action: python, with: {function: 'json:no_such_function'}}]}]\n"
)
#: the routes held to the whole document: the native API, health and metrics
NATIVE: Final = ("/api/v1/", "/healthz", "/metrics")
CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


async def _prepare(runtime: Runtime) -> tuple[str, str]:
    """Make a superuser's API key, the plan and a run of it; return key and run id.

    The run is only queued here: the app's runtime runs it once it starts.
    """
    await runtime.auth.ensure_workspace()
    user = await runtime.auth.create_user("fuzzer", superuser=True)
    principal = Principal(user_id=user.user_id, username="fuzzer", superuser=True)
    key = await runtime.auth.create_api_key(principal, name="fuzz")
    await runtime.commands.apply_plan(PLAN)
    run = await runtime.commands.start_run("failing")
    return key.secret, run.run_id


def _load() -> tuple[str, schemathesis.BaseSchema]:
    """Return a superuser's key and the schema of an app with a plan and a run."""
    store = MemoryStore()
    settings = Settings(concurrency=4, heartbeat_timeout=60, shutdown_grace=1)
    token, run_id = asyncio.run(
        _prepare(Runtime.open(settings, executes=False, store=store))
    )
    app = create_app(Runtime.open(settings, executes=True, store=store))
    config = schemathesis.Config.from_dict(
        {
            "parameters": {
                "path.workspace": "default",
                "path.run_id": run_id,
                "path.name": "failing",
            },
            "generation": {"max-examples": EXAMPLES, "mode": "all"},
            "phases": {"stateful": {"enabled": False}},
            "suppress-health-check": ["too_slow", "filter_too_much"],
        }
    )
    document = json.loads(json.dumps(app.openapi()))
    loaded = schemathesis.openapi.from_dict(document, config=config)
    loaded.app = app
    return token, loaded


TOKEN, schema = _load()


@pytest.fixture(scope="module", autouse=True)
def _stop_the_app() -> Iterator[None]:
    """Stop the app's runtime once the module's tests are done."""
    yield
    asgi.shutdown_lifespans()


@schema.parametrize()
def test_no_input_yields_a_server_error_and_answers_conform(
    case: schemathesis.Case,
) -> None:
    """Each generated request is answered without a 5xx, as documented.

    Routes outside the native API (vendor dialects, the console) take other
    credentials and answer in their own envelopes: they are held to "no 5xx".
    """
    native = case.operation.path.startswith(NATIVE)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=CHECKS if native else [not_a_server_error],
    )
