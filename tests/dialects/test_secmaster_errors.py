"""SecMaster errors, row by row: each is SecMaster's envelope with an X-request-id.

Failures of Onward's own, and the words of refusals: playbook instances, their
statuses, the operations and workspaces, never Onward's runs and states. The
refused requests (parameters, bodies, signatures, methods) are in
``test_secmaster_requests.py``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from dialect_support import (
    MASTER,
    SM_BASE,
    add_token,
    failed_marker_run,
    finished_quick_run,
    running_slow_run,
    serve,
    sm_error,
    sm_instances,
    sm_operate,
    store_user,
    wait_for,
)
from structlog.testing import capture_logs

from onward import errors
from onward.api.dialects.secmaster.errors import vendor_message
from onward.api.dialects.secmaster.instances import Instances
from onward.clock import FrozenClock
from onward.config import Settings
from onward.domain.access import Role
from onward.domain.runs import Run, RunStatus
from onward.runtime import Runtime
from onward.service.commands import Caller
from onward.storage.memory import MemoryStore

WORKSPACE: Final = "soc"
WRONG_STATE: Final = "SecMaster.00040009"
UNAUTHENTICATED: Final = "SecMaster.00040101"
NOT_FOUND: Final = "SecMaster.00040401"
PAGE: Final = "limit=10&offset=0"
TERMINABLE: Final = (
    "only a RUNNING or RETRYING playbook instance, or a FAILED one awaiting RETRY, "
    "can be terminated."
)


# --- failures of Onward's own --------------------------------------------------------


def break_the_list(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    """Make every list request fail inside the dialect with ``error``."""

    async def broken(*_: Any) -> None:
        raise error

    monkeypatch.setattr(Instances, "page", broken)


async def test_an_unexpected_failure_is_secmaster_s_500_with_a_request_id(
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any exception is SecMaster's 500, logged with its traceback, not leaked."""
    break_the_list(monkeypatch, RuntimeError("a secret detail"))

    with capture_logs() as logs:
        response = await secmaster.get(f"{sm_instances()}?{PAGE}", headers=operator)

    failed = [entry for entry in logs if entry["event"] == "secmaster.request_failed"]
    assert sm_error(response, 500, "SecMaster.00050001") == "Internal server error"
    assert "secret" not in response.text
    assert len(failed) == 1
    assert failed[0]["log_level"] == "error"
    assert failed[0]["exc_info"] is True
    assert failed[0]["method"] == "GET"


@pytest.mark.parametrize(
    ("error", "status", "code", "message", "retry_after"),
    [
        (
            errors.OnwardError("an internal detail"),
            500,
            "SecMaster.00050001",
            "Internal server error",
            None,
        ),
        (
            errors.StorageError("(builtins.OverflowError) date value out of range"),
            503,
            "SecMaster.00050301",
            "The service is unavailable for a moment; try again",
            "1",
        ),
    ],
    ids=["onward-error", "storage"],
)
async def test_failures_of_onward_keep_their_details_to_the_log(
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    error: errors.OnwardError,
    status: int,
    code: str,
    message: str,
    retry_after: str | None,
) -> None:
    """Onward's own failures and an unavailable store answer without their words."""
    break_the_list(monkeypatch, error)

    response = await secmaster.get(f"{sm_instances()}?{PAGE}", headers=operator)

    assert sm_error(response, status, code) == message
    assert error.message not in response.text
    assert response.headers.get("retry-after") == retry_after


# --- refusals in SecMaster's words ---------------------------------------------------


async def test_refused_operations_name_the_instance_its_status_and_the_operation(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
) -> None:
    """A refused RETRY or TERMINATE says the instance's SecMaster status and why."""
    finished = await finished_quick_run(runtime, workspace=WORKSPACE)
    failed = await failed_marker_run(runtime, tmp_path, workspace=WORKSPACE)
    running = await running_slow_run(runtime, workspace=WORKSPACE)

    async def refusal(run: Run, operation: str) -> str:
        response = await sm_operate(secmaster, operator, run.run_id, operation)
        return sm_error(response, 400, WRONG_STATE)

    refused = {
        "finished-retry": await refusal(finished, "RETRY"),
        "finished-terminate": await refusal(finished, "TERMINATE"),
        "failed-terminate": await refusal(failed, "TERMINATE"),
        "running-retry": await refusal(running, "RETRY"),
    }
    await runtime.commands.cancel_run(
        running.run_id, force=True, caller=Caller(workspace=WORKSPACE)
    )
    await wait_for(runtime, running.run_id, RunStatus.CANCELLED)
    refused["terminated-retry"] = await refusal(running, "RETRY")

    retry = "only a FAILED playbook instance can be retried."
    assert refused == {
        "finished-retry": (
            f"Cannot RETRY playbook instance {finished.run_id}: it is FINISHED; "
            + retry
        ),
        "finished-terminate": (
            f"Cannot TERMINATE playbook instance {finished.run_id}: it is FINISHED; "
            + TERMINABLE
        ),
        "failed-terminate": (
            f"Cannot TERMINATE playbook instance {failed.run_id}: it is FAILED and "
            "has ended; " + TERMINABLE
        ),
        "running-retry": (
            f"Cannot RETRY playbook instance {running.run_id}: it is RUNNING; " + retry
        ),
        "terminated-retry": (
            f"Cannot RETRY playbook instance {running.run_id}: it is TERMINATED; "
            + retry
        ),
    }


async def test_a_user_with_no_role_in_the_workspace_finds_no_workspace(
    runtime: Runtime, secmaster: httpx.AsyncClient
) -> None:
    """A role elsewhere only: the path's workspace is a 404 naming it."""
    user = await store_user(runtime, "eve", roles={"elsewhere": Role.ADMIN})
    headers = {"X-Auth-Token": await add_token(runtime, user)}

    response = await secmaster.get(f"{sm_instances()}?{PAGE}", headers=headers)

    message = sm_error(response, 404, NOT_FOUND)
    assert message == "Workspace soc does not exist, or you have no role in it"


@pytest.mark.parametrize(
    ("instance_id", "shown"),
    [("run%00x", "run\x00x"), ("r" * 300, "r" * 128), ("run%09x", "run\tx")],
    ids=["nul", "long", "tab"],
)
async def test_ids_no_instance_can_have_are_not_found(
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    instance_id: str,
    shown: str,
) -> None:
    """An id with control characters, or too long for any run, is a 404."""
    response = await secmaster.get(f"{sm_instances()}/{instance_id}", headers=operator)

    message = sm_error(response, 404, NOT_FOUND)
    assert message == f"Playbook instance {shown} does not exist in workspace soc"


async def test_a_disabled_user_s_token_is_401(
    runtime: Runtime, secmaster: httpx.AsyncClient
) -> None:
    """The token of a user who was disabled is refused."""
    user = await store_user(runtime, "dora", roles={WORKSPACE: Role.OPERATOR})
    headers = {"X-Auth-Token": await add_token(runtime, user)}
    await runtime.store.update_user(replace(user, disabled=True))

    response = await secmaster.get(f"{sm_instances()}?{PAGE}", headers=headers)

    assert sm_error(response, 401, UNAUTHENTICATED) == "The account is disabled"


async def test_an_expired_token_is_401() -> None:
    """A session token past its expiry is refused."""
    clock = FrozenClock()
    settings = Settings(access_key_master=MASTER)
    runtime = Runtime.open(settings, executes=False, store=MemoryStore(), clock=clock)
    user = await store_user(runtime, "exa", roles={WORKSPACE: Role.OPERATOR})
    headers = {"X-Auth-Token": await add_token(runtime, user)}
    clock.advance(timedelta(hours=2))

    async with serve(runtime, SM_BASE) as secmaster:
        response = await secmaster.get(f"{sm_instances()}?{PAGE}", headers=headers)

    message = sm_error(response, 401, UNAUTHENTICATED)
    assert message == "The token or API key is unknown, expired or revoked"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            errors.StaleStateError(subject="run x", expected_version=3),
            "Playbook instance i1 changed while the operation was applied; "
            "send it again",
        ),
        (
            errors.IdempotencyConflictError(key="k"),
            "The status of playbook instance i1 does not allow this",
        ),
        (
            errors.PermissionDeniedError(permission="read", workspace="soc"),
            "Your role in workspace soc does not allow viewing playbook instances",
        ),
        (
            errors.DataObjectNotFoundError(object_id="obj_1"),
            "The requested resource does not exist",
        ),
        (
            errors.InvalidDefinitionError([errors.Problem("offset", "too big")]),
            "offset: too big",
        ),
    ],
    ids=["stale", "conflict", "read", "not-found", "invalid"],
)
def test_onward_errors_are_worded_in_secmaster_s_terms(
    error: errors.OnwardError, message: str
) -> None:
    """Errors the routes rarely meet are worded from their data, not Onward's text."""
    path = {"project_id": "p", "workspace_id": "soc", "instance_id": "i1"}

    assert vendor_message(error, path) == message
