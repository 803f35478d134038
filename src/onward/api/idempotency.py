"""
Idempotency-Key on every mutating native route: a repeated request replays its answer.

A key belongs to the workspace of the path (to the caller, on routes outside
workspaces). The first successful answer to a request sent with a key is kept:
sending the same request (same caller, method, path, query and body) with the
key again answers the kept status, body and ``Location`` with
``Idempotent-Replayed: true`` and does nothing else. Sending another request
with a used key is refused with a 422 problem (code ``idempotency-key-reused``),
as the IETF Idempotency-Key draft recommends; a second request racing the first
may get a 409. Failed requests are not kept: they changed nothing, and may be
sent again.

Run commands pass the key to the service, which stores it in the same
transaction as the run's change, so a crash between the two cannot start a run
twice; the answer is added to that record afterwards. Secrets shown once (a new
API key's secret, a new access key's secret key) are never kept: a replay shows
them as null.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from onward import errors
from onward.api.deps import CurrentPrincipal, ServicesDep
from onward.clock import Clock
from onward.service.commands import Caller
from onward.service.ports import IdempotencyRecord, Store

#: the header that marks a replayed answer
REPLAYED_HEADER: Final = "Idempotent-Replayed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """An answer to send, and to keep for replays."""

    status: int
    body: BaseModel | None = None
    location: str | None = None
    #: body fields shown once and never kept
    secret_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Idempotency:
    """A mutating request, its caller and its idempotency key (if any)."""

    caller: Caller
    #: where the key lives: the workspace, or ``~<user id>`` outside workspaces
    scope: str
    key: str | None
    digest: str
    command: str
    store: Store
    clock: Clock

    async def run(
        self, action: Callable[[Caller], Awaitable[Reply]], *, atomic: bool = False
    ) -> Response:
        """Answer the request: replay a kept answer, or act and keep the answer.

        Args:
            action: does the request's work as the caller.
            atomic: the action stores the key itself with its effect (run
                commands): a record without an answer is left for it to judge.
        """
        if self.key is None:
            return _render(await action(self.caller))
        found = await self.store.find_idempotency(workspace=self.scope, key=self.key)
        if found is not None and "status" in found.response:
            if found.request_digest != self.digest:
                raise errors.IdempotencyConflictError(key=self.key)
            return _render_kept(found.response)
        if found is not None and not atomic:
            raise errors.IdempotencyConflictError(key=self.key)
        reply = await action(self.caller)
        await self._keep(reply)
        return _render(reply)

    async def _keep(self, reply: Reply) -> None:
        assert self.key is not None  # noqa: S101 - only called with a key
        body = (
            reply.body.model_dump(mode="json", by_alias=True)
            if reply.body is not None
            else None
        )
        if body is not None:
            body.update(dict.fromkeys(reply.secret_fields))
        stored = await self.store.find_idempotency(workspace=self.scope, key=self.key)
        await self.store.save_idempotency(
            IdempotencyRecord(
                workspace=self.scope,
                key=self.key,
                command=self.command,
                request_digest=self.digest,
                run_id=stored.run_id if stored is not None else "",
                response={
                    "status": reply.status,
                    "body": body,
                    "location": reply.location,
                },
                created_at=stored.created_at if stored else self.clock.now(),
            )
        )


async def idempotency(
    request: Request,
    principal: CurrentPrincipal,
    services: ServicesDep,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Replay-safe key: the same key and request answer the same.",
        ),
    ] = None,
    reason: Annotated[
        str,
        Header(
            alias="X-Reason",
            max_length=1000,
            description="Why: kept with the actor in the run's audit trail.",
        ),
    ] = "",
) -> Idempotency:
    """Return the request's idempotency context and caller."""
    workspace = request.path_params.get("workspace")
    body = await request.body()
    return Idempotency(
        caller=Caller(
            actor=principal.username,
            reason=reason,
            idempotency_key=key,
            workspace=workspace or "default",
        ),
        scope=workspace or f"~{principal.user_id}",
        key=key,
        digest=_digest(request, principal.user_id, body),
        command=f"{request.method} {request.url.path}",
        store=services.runtime.store,
        clock=services.runtime.engine.clock,
    )


#: a mutating request's caller, reason and Idempotency-Key
Idem = Annotated[Idempotency, Depends(idempotency)]


def _digest(request: Request, user_id: str, body: bytes) -> str:
    canonical = {
        "user": user_id,
        "method": request.method,
        "path": request.url.path,
        "query": sorted(request.query_params.multi_items()),
        "body": _canonical_body(body),
    }
    text = json.dumps(canonical, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("latin-1")


def _render(reply: Reply) -> Response:
    body = (
        reply.body.model_dump(mode="json", by_alias=True)
        if reply.body is not None
        else None
    )
    return _response(reply.status, body, reply.location, {})


def _render_kept(kept: Mapping[str, Any]) -> Response:
    return _response(
        int(kept["status"]),
        kept.get("body"),
        kept.get("location"),
        {REPLAYED_HEADER: "true"},
    )


def _response(
    status: int, body: Any, location: str | None, headers: dict[str, str]
) -> Response:
    if location is not None:
        headers["Location"] = location
    if body is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)
