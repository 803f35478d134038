"""
The ``http`` action: makes one HTTP request with httpx and checks its status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

import httpx

from onward.actions._inputs import InputReader, invalid_inputs, is_template
from onward.actions.base import ActionContext, ActionResult
from onward.errors import Problem

#: how much of a response body is kept in the output
BODY_LIMIT: Final = 64 * 1024
_EXCERPT_LIMIT: Final = 200
_METHOD: Final = re.compile(r"^[A-Za-z]+$")
#: what messages show instead of a password found in a URL
_HIDDEN: Final = "***"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Request:
    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    payload: Any = None
    expect_status: tuple[int, ...] | None = None
    timeout: float = 30.0
    verify_tls: bool = True

    @property
    def label(self) -> str:
        """Return ``METHOD url`` for messages, with any password in the URL hidden."""
        try:
            url = httpx.URL(self.url)
        except httpx.InvalidURL:
            return f"{self.method} {self.url}"
        if url.password:
            url = url.copy_with(username=url.username, password=_HIDDEN)
        return f"{self.method} {url}"


def _check(request: _Request) -> list[Problem]:
    problems = []
    url, method = request.url, request.method
    if url and not is_template(url) and not url.startswith(("http://", "https://")):
        problems.append(
            Problem(path="url", message=f"must be an http(s) URL, not {url!r}")
        )
    if not is_template(method) and not _METHOD.match(method):
        problems.append(
            Problem(path="method", message=f"is not an HTTP method: {method!r}")
        )
    if request.body is not None and request.payload is not None:
        problems.append(
            Problem(path="json", message="give either body or json, not both")
        )
    if any(not 100 <= code <= 599 for code in request.expect_status or ()):
        problems.append(
            Problem(path="expect_status", message="must be HTTP status codes")
        )
    if request.timeout <= 0:
        problems.append(Problem(path="timeout", message="must be more than 0 seconds"))
    return problems


def _read(
    inputs: Mapping[str, Any], *, rendered: bool
) -> tuple[_Request, list[Problem]]:
    reader = InputReader(inputs, rendered=rendered)
    request = _Request(
        url=reader.string("url", required=True) or "",
        method=(reader.string("method") or "GET").upper(),
        headers=reader.string_map("headers"),
        body=reader.string("body"),
        payload=reader.raw("json"),
        expect_status=reader.integers("expect_status"),
        timeout=reader.seconds("timeout", default=30.0),
        verify_tls=reader.boolean("verify_tls", default=True),
    )
    reader.reject_unknown()
    return request, reader.problems + _check(request)


async def _read_body(response: httpx.Response) -> tuple[bytes, bool]:
    """Read at most :data:`BODY_LIMIT` bytes of the body; tell whether more was left."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > BODY_LIMIT:
            return bytes(body[:BODY_LIMIT]), True
    return bytes(body), False


def _decode(response: httpx.Response, body: bytes) -> str:
    try:
        return body.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _parse_json(response: httpx.Response, text: str, *, truncated: bool) -> Any:
    if truncated or "json" not in response.headers.get("content-type", ""):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _outcome(
    request: _Request, response: httpx.Response, body: bytes, *, truncated: bool
) -> ActionResult:
    text = _decode(response, body)
    output = {
        "status": response.status_code,
        "headers": dict(response.headers.items()),
        "body": text,
        "json": _parse_json(response, text, truncated=truncated),
    }
    status = response.status_code
    expected = request.expect_status
    if (status in expected) if expected else response.is_success:
        return ActionResult.succeeded(output)
    wanted = ", ".join(map(str, expected)) if expected else "2xx"
    excerpt = " ".join(text.split())[:_EXCERPT_LIMIT]
    error = (
        f"{request.label} returned {status} {response.reason_phrase} "
        f"(expected {wanted}): {excerpt or '<empty body>'}"
    )
    return ActionResult.failed(error, output=output)


async def _send(request: _Request) -> tuple[httpx.Response, bytes, bool]:
    async with (
        httpx.AsyncClient(verify=request.verify_tls, timeout=request.timeout) as client,
        client.stream(
            request.method,
            request.url,
            headers=dict(request.headers),
            content=request.body,
            json=request.payload,
        ) as response,
    ):
        body, truncated = await _read_body(response)
    return response, body, truncated


class HttpAction:
    """
    Makes one HTTP request and checks the response status.

    Inputs:
        url: ``http://`` or ``https://`` URL (required).
        method: ``GET`` (default), ``POST``, ``PUT``...
        headers: mapping of header names to values.
        body: the request body as text; or
        json: any JSON value, sent as the body with ``Content-Type: application/json``.
        expect_status: a status code or a list of them (default: any 2xx).
        timeout: seconds (or ``30s``, ``2m``) for the request (default 30).
        verify_tls: check the server's certificate (default true).

    Output: ``{"status", "headers", "body", "json"}``: headers with lower-case
    names, the body as text (first 64 KiB), ``json`` parsed when the response
    is JSON and whole, else null. Connection errors and timeouts are failures
    worth retrying; an unexpected status is a failure naming the status with
    an excerpt of the body.
    """

    kind: ClassVar[str] = "http"

    def check(self, inputs: Mapping[str, Any]) -> list[Problem]:
        """Check the URL, method, headers, body and expectations."""
        return _read(inputs, rendered=False)[1]

    async def run(self, inputs: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        """Send the request and turn the response into a result."""
        request, problems = _read(inputs, rendered=True)
        if problems:
            return invalid_inputs(problems)
        try:
            response, body, truncated = await _send(request)
        except httpx.TimeoutException as exc:
            error = f"{request.label} timed out after {request.timeout:g}s"
            error += f" ({type(exc).__name__})"
            return ActionResult(ok=False, error=error, timed_out=True)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return ActionResult.failed(f"{request.label}: {exc}", retryable=False)
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return ActionResult.failed(f"{request.label} failed: {reason}")
        ctx.log(
            "info", f"{request.label} -> {response.status_code} ({len(body)} bytes)"
        )
        return _outcome(request, response, body, truncated=truncated)
