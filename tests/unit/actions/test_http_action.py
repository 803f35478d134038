"""
Tests of the http action against a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from onward.actions import ActionContext
from onward.actions.http import BODY_LIMIT, HttpAction

#: how long a /hang request waits for the test to end, at most
_HANG_SECONDS = 5.0


class _Handler(BaseHTTPRequestHandler):
    """Answers by path: /json, /echo, /status/<code>, /big, /hang."""

    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self) -> None:
        if self.path == "/hang":
            self.server.release.wait(_HANG_SECONDS)
            return
        if self.path.startswith("/status/"):
            status = int(self.path.removeprefix("/status/"))
            self._send(status, b"  service\n  down for maintenance ", "text/plain")
        elif self.path == "/big":
            self._send(200, b"x" * (BODY_LIMIT + 1000), "application/json")
        elif self.path == "/echo":
            length = int(self.headers.get("Content-Length", 0))
            echo = {
                "method": self.command,
                "headers": {key.lower(): value for key, value in self.headers.items()},
                "body": self.rfile.read(length).decode(),
            }
            self._send(200, json.dumps(echo).encode(), "application/json")
        else:
            self._send(200, b'{"healthy": true}', "application/json; charset=utf-8")

    def do_GET(self) -> None:
        """Answer a GET."""
        self._answer()

    def do_POST(self) -> None:
        """Answer a POST."""
        self._answer()

    def do_PUT(self) -> None:
        """Answer a PUT."""
        self._answer()


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


@pytest.fixture
def closed_port() -> int:
    """Return a port of 127.0.0.1 nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_json_response_is_parsed_into_the_output(
    base_url: str, ctx: ActionContext
) -> None:
    """A 2xx JSON response succeeds with status, headers, body and parsed json."""
    result = await HttpAction().run({"url": f"{base_url}/health"}, ctx)

    assert result.ok
    assert result.output["status"] == 200
    assert result.output["headers"]["content-type"] == "application/json; charset=utf-8"
    assert result.output["body"] == '{"healthy": true}'
    assert result.output["json"] == {"healthy": True}


async def test_json_input_is_sent_as_a_json_body(
    base_url: str, ctx: ActionContext
) -> None:
    """The json input becomes the body, with its content type, and headers are sent."""
    inputs = {
        "url": f"{base_url}/echo",
        "method": "post",
        "headers": {"X-Run": "run_1", "X-Attempt": 2},
        "json": {"target": "db1"},
    }

    result = await HttpAction().run(inputs, ctx)
    echo = result.output["json"]

    assert echo["method"] == "POST"
    assert echo["headers"]["content-type"] == "application/json"
    assert echo["headers"]["x-run"] == "run_1"
    assert echo["headers"]["x-attempt"] == "2"
    assert json.loads(echo["body"]) == {"target": "db1"}


async def test_body_input_is_sent_as_text(base_url: str, ctx: ActionContext) -> None:
    """The body input is sent as it is."""
    inputs = {"url": f"{base_url}/echo", "method": "PUT", "body": "state=stopped"}

    result = await HttpAction().run(inputs, ctx)

    assert result.output["json"]["body"] == "state=stopped"


async def test_an_unexpected_status_fails_with_the_status_and_a_body_excerpt(
    base_url: str, ctx: ActionContext
) -> None:
    """A non-2xx status is a retryable failure naming the status and the body."""
    result = await HttpAction().run({"url": f"{base_url}/status/503"}, ctx)

    assert not result.ok
    assert result.retryable
    assert result.error == (
        f"GET {base_url}/status/503 returned 503 Service Unavailable (expected 2xx): "
        "service down for maintenance"
    )
    assert result.output["status"] == 503


async def test_expect_status_accepts_the_listed_codes_only(
    base_url: str, ctx: ActionContext
) -> None:
    """A status listed in expect_status succeeds; a 2xx not listed fails."""
    action = HttpAction()

    gone = await action.run(
        {"url": f"{base_url}/status/404", "expect_status": "404"}, ctx
    )
    fine = await action.run(
        {"url": f"{base_url}/json", "expect_status": [201, 204]}, ctx
    )

    assert gone.ok
    assert not fine.ok
    assert fine.error is not None
    assert "(expected 201, 204)" in fine.error


async def test_a_large_body_is_capped_and_not_parsed(
    base_url: str, ctx: ActionContext
) -> None:
    """Only the first 64 KiB of the body is kept, and a cut JSON body is not parsed."""
    result = await HttpAction().run({"url": f"{base_url}/big"}, ctx)

    assert len(result.output["body"]) == BODY_LIMIT
    assert result.output["json"] is None


async def test_a_refused_connection_is_a_retryable_failure(
    closed_port: int, ctx: ActionContext
) -> None:
    """Nobody listening is a failure worth retrying, naming the request."""
    url = f"http://127.0.0.1:{closed_port}/health"

    result = await HttpAction().run({"url": url}, ctx)

    assert not result.ok
    assert result.retryable
    assert result.error is not None
    assert result.error.startswith(f"GET {url} failed: ConnectError")


async def test_a_password_in_the_url_is_hidden_from_messages(
    closed_port: int, ctx: ActionContext
) -> None:
    """Credentials in the URL never reach the error message."""
    url = f"http://admin:s3cret@127.0.0.1:{closed_port}/"

    result = await HttpAction().run({"url": url}, ctx)

    assert result.error is not None
    assert "s3cret" not in result.error
    assert "admin:***@" in result.error


async def test_a_request_past_its_timeout_is_timed_out(
    base_url: str, ctx: ActionContext
) -> None:
    """A server that does not answer in time gives a timed-out, retryable failure."""
    result = await HttpAction().run(
        {"url": f"{base_url}/hang", "timeout": "200ms"}, ctx
    )

    assert not result.ok
    assert result.timed_out
    assert result.retryable
    assert result.error is not None
    assert "timed out after 0.2s" in result.error


async def test_an_unsupported_scheme_at_run_time_is_not_retryable(
    ctx: ActionContext,
) -> None:
    """A rendered URL that is not http(s) fails without retries."""
    result = await HttpAction().run({"url": "ftp://example.org/file"}, ctx)

    assert not result.ok
    assert not result.retryable
    assert (
        result.error
        == "invalid inputs: with.url: must be an http(s) URL, not 'ftp://example.org/file'"
    )


def test_check_accepts_valid_inputs_and_templates() -> None:
    """A well-formed request passes, templates included."""
    inputs = {
        "url": "http://{{ target.vars.ip }}:8080/health",
        "method": "POST",
        "headers": {"Authorization": "Bearer {{ run.params.token }}"},
        "json": {"target": "{{ target.name }}"},
        "expect_status": [200, 202],
        "timeout": "10s",
        "verify_tls": "{{ run.params.verify }}",
    }

    assert HttpAction().check(inputs) == []


def test_check_reports_every_problem_with_its_path() -> None:
    """A bad URL, method, status, body/json pair and timeout are all reported."""
    inputs = {
        "url": "example.org",
        "method": "GE T",
        "body": "x",
        "json": {"x": 1},
        "expect_status": [200, 999],
        "timeout": 0,
        "verify_tls": "maybe",
    }

    problems = {problem.path: problem.message for problem in HttpAction().check(inputs)}

    assert sorted(problems) == [
        "expect_status",
        "json",
        "method",
        "timeout",
        "url",
        "verify_tls",
    ]
    assert problems["json"] == "give either body or json, not both"
