"""
The request body limit: no body larger than ``max_request_body`` bytes is read.

``BodyLimit`` (ASGI middleware of the whole app) counts each request body as
it is read. Reading past the limit raises ``BodyTooLargeError`` (an
``HTTPException`` 413), and so does the first read of a body whose
``Content-Length`` already passes it, so nothing larger is ever held in
memory. The error is raised where the body is read, inside the route, so each
surface answers it in its own envelope: the native API's problem+json, the
console's error page, each dialect's error body.

Every route reads the body before its handler runs (``LimitedRoute``; the
console's ``ConsoleRoute`` and static files do too), so a body over the limit
is refused before anything is done, even where the handler would not read
it, and never while an answer is under way: a streamed answer (an event
stream, a file) listens for the client's departure by reading too, and a 413
raised there would break the answer.

FastAPI's own ``max_body_size`` is not used: for a declared length over the
limit, Starlette's middleware replaces whatever the app answered with a plain
text 413, which none of the surfaces' clients read, and an endpoint that
reads no body has run by then.
"""

from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: the most digits of a ``Content-Length`` read as a number
_LONGEST: Final = 18


class BodyTooLargeError(HTTPException):
    """A request body larger than the limit: 413 Content Too Large.

    FastAPI's ``HTTPException`` (hence Starlette's too), so that every
    surface's handler of either takes it.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, detail=f"The request body is larger than the limit of {limit} bytes."
        )
        self.limit = limit


class BodyLimit:
    """Fail the reading of a request body past ``limit`` bytes."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with its body counted as it is read."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = _CountedBody(self.limit, declared_length(scope), receive, send)
        await self.app(scope, body.receive, body.send)


class _CountedBody:
    """One request's body as the app reads it, and whether its answer has begun."""

    def __init__(
        self, limit: int, declared: int | None, receive: Receive, send: Send
    ) -> None:
        self.limit = limit
        self.over = declared is not None and declared > limit
        self.read = 0
        self.answering = False
        self._receive = receive
        self._send = send

    async def receive(self) -> Message:
        """Return the next message, failing once the body passes the limit."""
        if self.over:
            return self._refuse()
        message = await self._receive()
        if message["type"] == "http.request":
            self.read += len(message.get("body", b""))
            self.over = self.read > self.limit
            if self.over:
                return self._refuse()
        return message

    async def send(self, message: Message) -> None:
        """Send a message of the answer, noting when it starts."""
        if message["type"] == "http.response.start":
            self.answering = True
        await self._send(message)

    def _refuse(self) -> Message:
        if self.answering:
            # too late for a 413 (a route that did not read the body first): a
            # stream watching for the client's departure ends, not fails
            return {"type": "http.disconnect"}
        raise BodyTooLargeError(self.limit)


def declared_length(scope: Scope) -> int | None:
    """Return the request's ``Content-Length``, or None if it has none or no number."""
    value = Headers(scope=scope).get("content-length", "").strip()
    if not (value.isascii() and value.isdigit()):
        return None
    digits = value.lstrip("0") or "0"
    # longer than any limit whatever its value (and int() refuses 4,300 digits)
    return int(digits) if len(digits) <= _LONGEST else 10**_LONGEST


class LimitedRoute(APIRoute):
    """A route that reads the request body before its handler runs.

    A body over the limit is then refused before anything is done, whether
    the handler would read it or not. The body read is kept on the request:
    the handler reads it again from there.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: read the body first."""
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            await request.body()
            return await handler(request)

        return limited
