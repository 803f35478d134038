"""
``OnwardClient``: an async, typed client of the native REST API on httpx.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self, TypedDict, TypeVar, Unpack, overload
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from onward import errors
from onward.client import _models as m
from onward.client._errors import error_of
from onward.domain.access import Role
from onward.domain.runs import RunStatus

_M = TypeVar("_M", bound=BaseModel)

API: Final = "/api/v1"

#: a halt point or step named as the API takes it: ``{group | stage, target, step}``
StepRef = Mapping[str, str | int]


class CommandIntent(TypedDict, total=False):
    """Why and under which idempotency key a mutating request is sent."""

    #: sent as ``Idempotency-Key``: the same key again replays the first answer
    idempotency_key: str | None
    #: sent as ``X-Reason``: recorded in the audit trail
    reason: str | None


class UnreachableError(errors.StorageError):
    """The server could not be reached."""


def _q(segment: str) -> str:
    return quote(segment, safe="")


class OnwardClient:
    """A client of one Onward server, signed in with a token or an API key.

    Use it as an async context manager (or call :meth:`aclose`). Every
    mutating method takes ``idempotency_key`` and ``reason`` (sent as the
    ``Idempotency-Key`` and ``X-Reason`` headers). Error answers raise
    :class:`onward.client.ApiError` subclasses.

    Args:
        base_url: the server, e.g. ``https://onward.example:8400``.
        token: a session token or API key (``onw_…``); None until :meth:`login`.
        workspace: the workspace of plan, run and operation calls.
        verify: TLS verification: True, False, or the path of a CA bundle.
        timeout: seconds for each request (event streams excepted).
        transport: an httpx transport, e.g. ``httpx.ASGITransport`` in tests.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        workspace: str = "default",
        verify: bool | str = True,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.workspace = workspace
        tls: bool | ssl.SSLContext = (
            ssl.create_default_context(cafile=verify)
            if isinstance(verify, str)
            else verify
        )
        self._http = httpx.AsyncClient(
            base_url=self.base_url, verify=tls, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    # -- plumbing ----------------------------------------------------------------

    def _headers(
        self, idempotency_key: str | None = None, reason: str | None = None
    ) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if reason:
            headers["X-Reason"] = reason
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        reason: str | None = None,
    ) -> httpx.Response:
        """Send one request to ``/api/v1`` + ``path``; raise ApiError on an error.

        Raises:
            ApiError: the server answered 4xx or 5xx.
            UnreachableError: the server could not be reached.
        """
        try:
            response = await self._http.request(
                method,
                API + path,
                json=body,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers=self._headers(idempotency_key, reason),
            )
        except httpx.TransportError as exc:
            msg = f"The server {self.base_url} could not be reached: {exc}"
            raise UnreachableError(msg) from exc
        if response.is_error:
            raise error_of(response)
        return response

    async def _get(
        self, model: type[_M], path: str, params: Mapping[str, Any] | None = None
    ) -> _M:
        response = await self.request("GET", path, params=params)
        return model.model_validate(response.json())

    async def _get_list(
        self,
        model: type[_M],
        path: str,
        field: str,
        params: Mapping[str, Any] | None = None,
    ) -> list[_M]:
        """Return the items of the answer's list ``field``, each as a model."""
        response = await self.request("GET", path, params=params)
        return [model.model_validate(item) for item in response.json()[field]]

    async def _send(
        self,
        model: type[_M],
        method: str,
        path: str,
        body: Any = None,
        **intent: Unpack[CommandIntent],
    ) -> _M:
        response = await self.request(method, path, body=body, **intent)
        return model.model_validate(response.json())

    def _ws(self, path: str = "") -> str:
        return f"/workspaces/{_q(self.workspace)}{path}"

    def _run(self, run_id: str, path: str = "") -> str:
        return self._ws(f"/runs/{_q(run_id)}{path}")

    # -- auth --------------------------------------------------------------------

    async def login(self, username: str, password: str) -> m.Token:
        """Sign in with a password; the client then uses the session token."""
        body = {"username": username, "password": password}
        token = await self._send(m.Token, "POST", "/auth/login", body)
        self.token = token.token
        return token

    async def logout(self) -> None:
        """End the session; the client has no token afterwards."""
        await self.request("POST", "/auth/logout")
        self.token = None

    async def me(self) -> m.Me:
        """Return the signed-in user and their roles."""
        return await self._get(m.Me, "/me")

    # -- workspaces, users, members, API keys -------------------------------------

    async def list_workspaces(self) -> list[m.Workspace]:
        """Return the workspaces the caller has a role in."""
        return await self._get_list(m.Workspace, "/workspaces", "workspaces")

    async def create_workspace(
        self, name: str, *, description: str = "", **intent: Unpack[CommandIntent]
    ) -> m.Workspace:
        """Create a workspace (superusers)."""
        body = {"name": name, "description": description}
        return await self._send(m.Workspace, "POST", "/workspaces", body, **intent)

    async def get_workspace(self, name: str) -> m.Workspace:
        """Return a workspace with the caller's role in it."""
        return await self._get(m.Workspace, f"/workspaces/{_q(name)}")

    async def list_users(self) -> list[m.User]:
        """Return every user (superusers)."""
        return await self._get_list(m.User, "/users", "users")

    async def create_user(
        self,
        username: str,
        *,
        password: str | None = None,
        superuser: bool = False,
        **intent: Unpack[CommandIntent],
    ) -> m.User:
        """Create a user; without a password, a service account (superusers)."""
        body: dict[str, Any] = {"username": username, "superuser": superuser}
        if password is not None:
            body["password"] = password
        return await self._send(m.User, "POST", "/users", body, **intent)

    async def get_user(self, user: str) -> m.User:
        """Return a user by id or username (superusers)."""
        return await self._get(m.User, f"/users/{_q(user)}")

    async def update_user(
        self,
        user: str,
        *,
        password: str | None = None,
        disabled: bool | None = None,
        superuser: bool | None = None,
        **intent: Unpack[CommandIntent],
    ) -> m.User:
        """Change a user's password, disabled or superuser flags (superusers)."""
        given = {"password": password, "disabled": disabled, "superuser": superuser}
        body = {k: v for k, v in given.items() if v is not None}
        path = f"/users/{_q(user)}"
        return await self._send(m.User, "PATCH", path, body, **intent)

    async def list_members(self) -> list[m.Member]:
        """Return the workspace's members (workspace admins)."""
        return await self._get_list(m.Member, self._ws("/members"), "members")

    async def get_member(self, user: str) -> m.Member:
        """Return a user's role in the workspace."""
        return await self._get(m.Member, self._ws(f"/members/{_q(user)}"))

    async def set_member(
        self, user: str, role: Role | str, **intent: Unpack[CommandIntent]
    ) -> m.Member:
        """Give a user a role in the workspace, replacing any other."""
        path = self._ws(f"/members/{_q(user)}")
        return await self._send(m.Member, "PUT", path, {"role": str(role)}, **intent)

    async def remove_member(self, user: str, **intent: Unpack[CommandIntent]) -> None:
        """Take a user's role in the workspace away."""
        await self.request("DELETE", self._ws(f"/members/{_q(user)}"), **intent)

    async def list_api_keys(self, *, user: str | None = None) -> list[m.ApiKey]:
        """Return the caller's API keys (or ``user``'s, for superusers)."""
        params = {"user": user}
        return await self._get_list(m.ApiKey, "/api-keys", "api_keys", params)

    async def create_api_key(
        self,
        name: str,
        *,
        workspace: str | None = None,
        role: Role | str | None = None,
        expires_in: int | None = None,
        user: str | None = None,
        **intent: Unpack[CommandIntent],
    ) -> m.ApiKey:
        """Make an API key; its ``secret`` is in this answer only."""
        body = _key_body(
            name, workspace=workspace, role=role, expires_in=expires_in, user=user
        )
        return await self._send(m.ApiKey, "POST", "/api-keys", body, **intent)

    async def revoke_api_key(
        self, key_id: str, **intent: Unpack[CommandIntent]
    ) -> None:
        """Revoke an API key."""
        await self.request("DELETE", f"/api-keys/{_q(key_id)}", **intent)

    async def list_access_keys(self, *, user: str | None = None) -> list[m.AccessKey]:
        """Return the caller's access keys (or ``user``'s, for superusers)."""
        params = {"user": user}
        return await self._get_list(m.AccessKey, "/access-keys", "access_keys", params)

    async def create_access_key(
        self,
        name: str,
        *,
        workspace: str | None = None,
        role: Role | str | None = None,
        expires_in: int | None = None,
        user: str | None = None,
        **intent: Unpack[CommandIntent],
    ) -> m.AccessKey:
        """Make an access key (AK/SK); its ``secret_key`` is in this answer only.

        Raises:
            ConflictApiError: the server has access keys off (no
                ONWARD_ACCESS_KEY_MASTER).
        """
        body = _key_body(
            name, workspace=workspace, role=role, expires_in=expires_in, user=user
        )
        return await self._send(m.AccessKey, "POST", "/access-keys", body, **intent)

    async def revoke_access_key(
        self, access_key_id: str, **intent: Unpack[CommandIntent]
    ) -> None:
        """Revoke an access key."""
        await self.request("DELETE", f"/access-keys/{_q(access_key_id)}", **intent)

    # -- plans -------------------------------------------------------------------

    async def list_plans(self) -> list[m.PlanSummary]:
        """Return the workspace's plans with their latest version."""
        return await self._get_list(m.PlanSummary, self._ws("/plans"), "plans")

    async def apply_plan(
        self, text: str, *, format: str | None = None, **intent: Unpack[CommandIntent]
    ) -> m.AppliedPlan:
        """Store a plan text (YAML or JSON) as its next version, if it changed."""
        body = {"source": text, "format": format}
        response = await self.request(
            "POST", self._ws("/plans"), body=_present(body), **intent
        )
        version = m.PlanVersion.model_validate(response.json())
        return m.AppliedPlan(version=version, created=response.status_code == 201)

    async def validate_plan(
        self, text: str, *, format: str | None = None
    ) -> m.Validation:
        """Check a plan text without storing it: every problem with its line."""
        body = _present({"source": text, "format": format})
        return await self._send(m.Validation, "POST", self._ws("/plans/validate"), body)

    @overload
    async def get_plan(self, name: str) -> m.Plan: ...

    @overload
    async def get_plan(self, name: str, version: int | None) -> m.PlanVersion: ...

    async def get_plan(self, name: str, version: int | None = None) -> m.PlanVersion:
        """Return a version of a plan, text included.

        Without ``version``: the plan as it stands, a :class:`models.Plan` (its
        latest version and whether it is ``enabled``).
        """
        path = self._ws(f"/plans/{_q(name)}")
        if version is None:
            return await self._get(m.Plan, path)
        return await self._get(m.PlanVersion, f"{path}/versions/{version}")

    async def enable_plan(self, name: str, **intent: Unpack[CommandIntent]) -> m.Plan:
        """Enable a plan: it starts runs again (an enabled plan stays so, no error)."""
        path = self._ws(f"/plans/{_q(name)}/enable")
        return await self._send(m.Plan, "POST", path, **intent)

    async def disable_plan(self, name: str, **intent: Unpack[CommandIntent]) -> m.Plan:
        """Disable a plan: it starts no run (manual, triggered, chained) until enabled.

        Runs already started go on; a disabled plan stays so, no error.
        """
        path = self._ws(f"/plans/{_q(name)}/disable")
        return await self._send(m.Plan, "POST", path, **intent)

    async def plan_versions(self, name: str) -> list[m.PlanVersionSummary]:
        """Return every version of a plan, oldest first."""
        path = self._ws(f"/plans/{_q(name)}/versions")
        return await self._get_list(m.PlanVersionSummary, path, "versions")

    async def delete_plan(self, name: str, **intent: Unpack[CommandIntent]) -> None:
        """Delete a plan that no run uses."""
        await self.request("DELETE", self._ws(f"/plans/{_q(name)}"), **intent)

    # -- runs --------------------------------------------------------------------

    async def start_run(
        self,
        plan: str,
        *,
        version: int | None = None,
        procedure: str | None = None,
        params: Mapping[str, Any] | None = None,
        chain: bool = False,
        **intent: Unpack[CommandIntent],
    ) -> m.Accepted:
        """Start a run of a plan; parameters are checked against the plan's."""
        body = _present(
            {
                "plan": plan,
                "version": version,
                "procedure": procedure,
                "params": dict(params) if params else None,
                "chain": chain or None,
            }
        )
        return await self._send(m.Accepted, "POST", self._ws("/runs"), body, **intent)

    async def list_runs(
        self,
        *,
        plan: str | None = None,
        statuses: Sequence[RunStatus | str] = (),
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> m.RunPage:
        """Return one page of runs, newest first."""
        params = {
            "plan": plan,
            "status": [str(s) for s in statuses] or None,
            "created_after": created_after.isoformat() if created_after else None,
            "created_before": created_before.isoformat() if created_before else None,
            "limit": limit,
            "cursor": cursor,
        }
        return await self._get(m.RunPage, self._ws("/runs"), params)

    async def iter_runs(
        self,
        *,
        plan: str | None = None,
        statuses: Sequence[RunStatus | str] = (),
        page_size: int = 100,
    ) -> AsyncIterator[m.Run]:
        """Yield every run matching the filters, newest first, page by page."""
        cursor: str | None = None
        while True:
            page = await self.list_runs(
                plan=plan, statuses=statuses, limit=page_size, cursor=cursor
            )
            for run in page.runs:
                yield run
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def get_run(self, run_id: str) -> m.RunDetail:
        """Return a run with its stage/target/step/attempt tree."""
        return await self._get(m.RunDetail, self._run(run_id))

    async def _command(
        self, run_id: str, command: str, body: dict[str, Any], intent: CommandIntent
    ) -> m.Accepted:
        path = self._run(run_id, f"/{command}")
        return await self._send(m.Accepted, "POST", path, _present(body), **intent)

    async def continue_run(
        self,
        run_id: str,
        option: str,
        *,
        points: Sequence[StepRef] | None = None,
        input_overrides: Mapping[str, Any] | None = None,
        preview_token: str | None = None,
        **intent: Unpack[CommandIntent],
    ) -> m.Accepted:
        """Go on with a halted run by a continue option, at all or some halt points."""
        body = {
            "option": str(option),
            "points": [dict(p) for p in points] if points else None,
            "input_overrides": dict(input_overrides) if input_overrides else None,
            "preview_token": preview_token,
        }
        return await self._command(run_id, "continue", body, intent)

    async def retry_run(
        self,
        run_id: str,
        *,
        preview_token: str | None = None,
        **intent: Unpack[CommandIntent],
    ) -> m.Accepted:
        """Run a failed run again from each failed step."""
        body = {"preview_token": preview_token}
        return await self._command(run_id, "retry", body, intent)

    async def cancel_run(
        self, run_id: str, *, force: bool = False, **intent: Unpack[CommandIntent]
    ) -> m.Accepted:
        """Cancel a run, gracefully or killing running steps."""
        return await self._command(run_id, "cancel", {"force": force}, intent)

    async def approve_run(
        self,
        run_id: str,
        *,
        attempt_id: str | None = None,
        comment: str = "",
        **intent: Unpack[CommandIntent],
    ) -> m.Accepted:
        """Approve the waiting approval (the only one, or ``attempt_id``)."""
        body = {"attempt_id": attempt_id, "comment": comment}
        return await self._command(run_id, "approve", body, intent)

    async def reject_run(
        self,
        run_id: str,
        *,
        attempt_id: str | None = None,
        comment: str = "",
        **intent: Unpack[CommandIntent],
    ) -> m.Accepted:
        """Reject the waiting approval (the only one, or ``attempt_id``)."""
        body = {"attempt_id": attempt_id, "comment": comment}
        return await self._command(run_id, "reject", body, intent)

    async def resume_run(
        self, run_id: str, step: StepRef, **intent: Unpack[CommandIntent]
    ) -> m.Accepted:
        """Resume a halted run's target at a chosen step."""
        return await self._command(run_id, "resume", dict(step), intent)

    async def preview(
        self,
        run_id: str,
        command: str,
        *,
        option: str | None = None,
        points: Sequence[StepRef] | None = None,
        input_overrides: Mapping[str, Any] | None = None,
    ) -> m.Preview:
        """Tell what a continue or retry would start and skip, with its token."""
        body = _present(
            {
                "command": command,
                "option": None if option is None else str(option),
                "points": [dict(p) for p in points] if points else None,
                "input_overrides": dict(input_overrides) if input_overrides else None,
            }
        )
        return await self._send(m.Preview, "POST", self._run(run_id, "/preview"), body)

    async def audit(self, run_id: str) -> list[m.AuditEntry]:
        """Return a run's audit trail, oldest first."""
        return await self._get_list(
            m.AuditEntry, self._run(run_id, "/audit"), "entries"
        )

    async def logs(
        self,
        run_id: str,
        *,
        after: int = 0,
        attempt_id: str | None = None,
        limit: int | None = None,
    ) -> m.LogPage:
        """Return a run's log lines after the sequence number ``after``."""
        params = {"after": after, "attempt_id": attempt_id, "limit": limit}
        return await self._get(m.LogPage, self._run(run_id, "/logs"), params)

    async def events(
        self,
        run_id: str,
        *,
        last_event_id: int | None = None,
        max_seconds: float | None = None,
    ) -> AsyncIterator[m.RunEvent]:
        """Yield the run's ``run`` events until the stream ends (a finished run)."""
        headers = self._headers()
        headers["Accept"] = "text/event-stream"
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        params = {} if max_seconds is None else {"max_seconds": max_seconds}
        url = API + self._run(run_id, "/events")
        timeout = httpx.Timeout(self._http.timeout.connect, read=None)
        async with self._http.stream(
            "GET", url, headers=headers, params=params, timeout=timeout
        ) as response:
            if response.is_error:
                await response.aread()
                raise error_of(response)
            async for event, data in _sse(response.aiter_lines()):
                if event == "run":
                    yield m.RunEvent.model_validate(json.loads(data))

    # -- operations --------------------------------------------------------------

    async def get_operation(self, operation_id: str) -> m.Operation:
        """Return an operation with its run's progress."""
        return await self._get(m.Operation, self._ws(f"/operations/{_q(operation_id)}"))

    async def list_operations(
        self, *, run_id: str | None = None, limit: int | None = None
    ) -> list[m.Operation]:
        """Return the workspace's operations, newest first."""
        params = {"run_id": run_id, "limit": limit}
        path = self._ws("/operations")
        return await self._get_list(m.Operation, path, "operations", params)

    async def wait_operation(
        self,
        operation_id: str,
        *,
        poll_interval: float = 0.5,
        max_wait: float | None = None,
    ) -> m.Operation:
        """Poll an operation until it is done (its run rested) and return it.

        Raises:
            TimeoutError: ``max_wait`` seconds passed first.
        """
        deadline = None if max_wait is None else time.monotonic() + max_wait
        while True:
            operation = await self.get_operation(operation_id)
            if operation.status is m.OperationStatus.DONE:
                return operation
            if deadline is not None and time.monotonic() >= deadline:
                msg = f"operation {operation_id} still running after {max_wait} s"
                raise TimeoutError(msg)
            await asyncio.sleep(poll_interval)

    async def cancel_operation(
        self, operation_id: str, *, force: bool = False, **intent: Unpack[CommandIntent]
    ) -> m.Accepted:
        """Cancel the run of a running operation."""
        response = await self.request(
            "DELETE",
            self._ws(f"/operations/{_q(operation_id)}"),
            params={"force": "true" if force else None},
            **intent,
        )
        return m.Accepted.model_validate(response.json())


def _present(body: Mapping[str, Any]) -> dict[str, Any]:
    """Return the members of a body that are given (not None)."""
    return {k: v for k, v in body.items() if v is not None}


def _key_body(
    name: str,
    *,
    workspace: str | None,
    role: Role | str | None,
    expires_in: int | None,
    user: str | None,
) -> dict[str, Any]:
    """Return the body that makes an API or access key."""
    return _present(
        {
            "name": name,
            "workspace": workspace,
            "role": None if role is None else str(role),
            "expires_in": expires_in,
            "user": user,
        }
    )


async def _sse(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """Yield (event, data) of a server-sent event stream; comments are skipped."""
    event, data = "message", list[str]()
    async for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    if data:
        yield event, "\n".join(data)
