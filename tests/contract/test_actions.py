"""
Behaviour every built-in action honours: result shape, timeout, cancellation, checks.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from onward.actions import Action, ActionCatalog, ActionContext, ActionResult
from onward.worker.runner import run_action

SHORT = timedelta(seconds=2)
TINY = timedelta(milliseconds=200)
#: how long the /hang route of the test server holds a request, at most
HANG_SECONDS = 5.0

#: per kind: inputs that finish at once, given the test server's URL
QUICK: dict[str, Callable[[str], dict[str, Any]]] = {
    "shell": lambda url: {"command": "echo ready"},
    "http": lambda url: {"url": f"{url}/health"},
    "python": lambda url: {"function": "json:dumps", "kwargs": {"obj": {"a": 1}}},
    "sleep": lambda url: {"seconds": 0},
    "noop": lambda url: {},
}
#: per kind: inputs that run until stopped (longer than any test waits)
ENDLESS: dict[str, Callable[[str], dict[str, Any]]] = {
    "shell": lambda url: {"command": "exec sleep 60", "kill_grace": "100ms"},
    "http": lambda url: {"url": f"{url}/hang", "timeout": 60},
    "python": lambda url: {"function": "asyncio:sleep", "kwargs": {"delay": 60}},
    "sleep": lambda url: {"seconds": 60},
}
#: per kind: valid inputs with every value a template
TEMPLATED: dict[str, dict[str, Any]] = {
    "shell": {
        "command": "{{ c }}",
        "env": "{{ e }}",
        "cwd": "{{ d }}",
        "timeout": "{{ t }}",
        "max_output": "{{ m }}",
        "ok_codes": "{{ o }}",
        "kill_grace": "{{ k }}",
    },
    "http": {
        "url": "{{ u }}",
        "method": "{{ m }}",
        "headers": "{{ h }}",
        "json": "{{ j }}",
        "expect_status": "{{ s }}",
        "timeout": "{{ t }}",
        "verify_tls": "{{ v }}",
    },
    "python": {"function": "{{ f }}", "kwargs": "{{ k }}"},
    "sleep": {"seconds": "{{ s }}"},
    "noop": {"anything": "{{ a }}"},
    "approval": {"message": "{{ m }}", "approvers": "{{ a }}"},
}


class _Handler(BaseHTTPRequestHandler):
    """Answers 200 with JSON, except /hang, which holds the request."""

    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""

    def do_GET(self) -> None:
        """Answer, or hold the request until the test ends."""
        if self.path == "/hang":
            self.server.release.wait(HANG_SECONDS)
            return
        body = b'{"healthy": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    release: threading.Event


@pytest.fixture
def base_url() -> Iterator[str]:
    """Serve the test routes on a free port of 127.0.0.1 for one test."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.release = threading.Event()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def catalog() -> ActionCatalog:
    """Return the installed actions."""
    return ActionCatalog()


@pytest.fixture
def ctx() -> ActionContext:
    """Return the context of a first try; its run log is dropped."""
    return ActionContext(
        run_id="run_1",
        attempt_id="att_1",
        step_name="step",
        target_name="target",
        attempt_number=1,
        log=lambda stream, line: None,
    )


def _action(catalog: ActionCatalog, kind: str) -> Action:
    return catalog.get(kind)


@pytest.mark.parametrize("kind", sorted(TEMPLATED))
def test_each_built_in_is_installed_and_conforms_to_the_port(
    catalog: ActionCatalog, kind: str
) -> None:
    """The built-in is found through its entry point, under its own kind."""
    action = _action(catalog, kind)

    assert isinstance(action, Action)
    assert action.kind == kind


@pytest.mark.parametrize("kind", sorted(TEMPLATED))
def test_check_accepts_a_template_wherever_a_value_is_expected(
    catalog: ActionCatalog, kind: str
) -> None:
    """Templates are not rendered at validation, so they stand in for any value."""
    assert catalog.check(kind, TEMPLATED[kind]) == []


@pytest.mark.parametrize("kind", sorted(set(TEMPLATED) - {"noop"}))
def test_check_reports_an_unknown_input_at_its_name(
    catalog: ActionCatalog, kind: str
) -> None:
    """A misspelt input is a problem whose path is the input's name."""
    inputs = {**TEMPLATED[kind], "comand": "typo"}

    problems = catalog.check(kind, inputs)

    assert [problem.path for problem in problems] == ["comand"]


@pytest.mark.parametrize("kind", sorted(QUICK))
async def test_a_quick_try_gives_a_json_serialisable_result(
    catalog: ActionCatalog, ctx: ActionContext, base_url: str, kind: str
) -> None:
    """The result is an ActionResult whose output survives a JSON round trip."""
    result = await run_action(
        _action(catalog, kind),
        QUICK[kind](base_url),
        ctx,
        timeout=SHORT,
        cancel=asyncio.Event(),
    )

    assert isinstance(result, ActionResult)
    assert result.ok, result.error
    assert json.loads(json.dumps(dict(result.output))) == dict(result.output)


@pytest.mark.parametrize("kind", sorted(ENDLESS))
async def test_a_try_past_its_timeout_is_timed_out(
    catalog: ActionCatalog, ctx: ActionContext, base_url: str, kind: str
) -> None:
    """The runner's timeout stops the action and reports it timed out."""
    result = await run_action(
        _action(catalog, kind),
        ENDLESS[kind](base_url),
        ctx,
        timeout=TINY,
        cancel=asyncio.Event(),
    )

    assert result.timed_out
    assert not result.ok
    assert result.error == "timed out after 0.2s"


@pytest.mark.parametrize("kind", sorted(ENDLESS))
async def test_a_cancelled_try_is_cancelled(
    catalog: ActionCatalog, ctx: ActionContext, base_url: str, kind: str
) -> None:
    """Setting the cancel event stops the action and reports it cancelled."""
    cancel = asyncio.Event()
    running = asyncio.create_task(
        run_action(
            _action(catalog, kind),
            ENDLESS[kind](base_url),
            ctx,
            timeout=SHORT,
            cancel=cancel,
        )
    )
    await asyncio.sleep(0)  # let the action start

    cancel.set()
    result = await running

    assert result.cancelled
    assert not result.ok


@pytest.mark.parametrize("kind", sorted(ENDLESS))
async def test_cancelling_run_lets_cancelled_error_propagate(
    catalog: ActionCatalog, ctx: ActionContext, base_url: str, kind: str
) -> None:
    """An action cancelled directly cleans up and re-raises CancelledError."""
    running = asyncio.create_task(
        _action(catalog, kind).run(ENDLESS[kind](base_url), ctx)
    )
    await asyncio.sleep(0)  # let the action start

    running.cancel()

    with pytest.raises(asyncio.CancelledError):
        await running


def test_invalid_inputs_never_raise_from_check(catalog: ActionCatalog) -> None:
    """Checking nonsense returns problems instead of raising."""
    nonsense: Mapping[str, Any] = {
        "command": 1,
        "url": [],
        "seconds": {},
        "function": 2,
    }

    for kind in sorted(catalog.kinds()):
        assert isinstance(catalog.check(kind, nonsense), list)
