"""The official SecMaster SDK lists, shows and operates playbook instances on Onward.

A real uvicorn server serves the app on a free loopback port, in a thread with
its own event loop; fixtures are made in that loop. The AK/SK comes from
``POST /api/v1/access-keys`` on that server, as a user would get it. The SDK's
v1 client is configured with nothing but the endpoint and credentials (AK/SK
and project).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, Final, NamedTuple, TypeVar

import httpx
import pytest
import uvicorn
from dialect_support import (
    add_token,
    apply,
    running_slow_run,
    start,
    store_user,
    wait_for,
)
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import (
    ClientRequestException,
    ServerResponseException,
)
from huaweicloudsdksecmaster.v1 import (
    ChangePlaybookInstanceRequest,
    ListPlaybookInstancesRequest,
    OperationPlaybookInfo,
    SecMasterClient,
    ShowPlaybookInstanceRequest,
)

from onward.api.app import create_app
from onward.api.dialects.secmaster.instances import Instances
from onward.domain.access import Role
from onward.domain.runs import Run, RunStatus
from onward.runtime import Runtime

PROJECT: Final = "0123456789abcdef0123456789abcdef"
WORKSPACE: Final = "soc"
T = TypeVar("T")


class AccessKey(NamedTuple):
    """An access key id (AK) and its secret key (SK)."""

    ak: str
    sk: str


class Server:
    """The app served by uvicorn on a loopback port, in a thread of its own."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(create_app(runtime), log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.loop.run_until_complete(self.server.serve(sockets=[self.socket]))

    def __enter__(self) -> Server:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return self
            threading.Event().wait(0.01)
        msg = "uvicorn did not start"
        raise RuntimeError(msg)

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.loop.close()
        self.socket.close()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine in the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)


@pytest.fixture
def server(runtime: Runtime) -> Iterator[Server]:
    """Yield a started server over a runtime that executes steps."""
    with Server(runtime) as running:
        yield running


async def _operator_token(runtime: Runtime) -> str:
    user = await store_user(runtime, "sdk", roles={WORKSPACE: Role.OPERATOR})
    return await add_token(runtime, user)


def access_key(server: Server) -> AccessKey:
    """Make an operator of ``soc`` and, over HTTP, an access key of theirs."""
    token = server.call(_operator_token(server.runtime))
    made = httpx.post(
        f"http://127.0.0.1:{server.port}/api/v1/access-keys",
        json={"name": "sdk"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert made.status_code == 201, made.text
    return AccessKey(made.json()["access_key_id"], made.json()["secret_key"])


async def _halted_run(runtime: Runtime, marker: Path) -> Run:
    plan = f"""
name: respond
groups:
  - name: g
    targets: [a]
    steps:
      - {{name: check, action: shell, with: {{command: "test -f {marker}"}}}}
"""
    await apply(runtime, plan, workspace=WORKSPACE)
    run = await start(runtime, "respond", workspace=WORKSPACE)
    return await wait_for(runtime, run.run_id, RunStatus.HALTED)


def sdk_client(server: Server, key: AccessKey) -> SecMasterClient:
    """Return the official client, given only the endpoint and credentials."""
    credentials = BasicCredentials(key.ak, key.sk, PROJECT)
    return (
        SecMasterClient.new_builder()
        .with_credentials(credentials)
        .with_endpoint(f"http://127.0.0.1:{server.port}")
        .build()
    )


def test_the_official_sdk_lists_shows_and_operates_instances(
    server: Server, tmp_path: Path
) -> None:
    """List, show, RETRY and TERMINATE through SecMasterClient, signed with AK/SK."""
    runtime = server.runtime
    key = access_key(server)
    halted = server.call(_halted_run(runtime, tmp_path / "marker"))
    running = server.call(running_slow_run(runtime, workspace=WORKSPACE))
    client = sdk_client(server, key)

    listed = client.list_playbook_instances(
        ListPlaybookInstancesRequest(workspace_id=WORKSPACE, limit=10, offset=0)
    )
    failed = client.list_playbook_instances(
        ListPlaybookInstancesRequest(
            workspace_id=WORKSPACE, status="FAILED", limit=10, offset=0
        )
    )
    shown = client.show_playbook_instance(
        ShowPlaybookInstanceRequest(workspace_id=WORKSPACE, instance_id=halted.run_id)
    )
    (tmp_path / "marker").touch()
    retried = client.change_playbook_instance(
        ChangePlaybookInstanceRequest(
            workspace_id=WORKSPACE,
            instance_id=halted.run_id,
            body=OperationPlaybookInfo(operation="RETRY"),
        )
    )
    terminated = client.change_playbook_instance(
        ChangePlaybookInstanceRequest(
            workspace_id=WORKSPACE,
            instance_id=running.run_id,
            body=OperationPlaybookInfo(operation="TERMINATE"),
        )
    )
    succeeded = server.call(wait_for(runtime, halted.run_id, RunStatus.SUCCEEDED))

    assert listed.count == 2
    assert {i.id for i in listed.instances} == {halted.run_id, running.run_id}
    assert listed.x_request_id
    assert [i.id for i in failed.instances] == [halted.run_id]
    assert shown.id == halted.run_id
    assert shown.project_id == PROJECT
    assert shown.status == "FAILED"
    assert shown.playbook.name == "respond"
    assert shown.playbook.version == "v1"
    assert shown.trigger_type == "MANUAL"
    assert shown.x_request_id
    assert retried.id == halted.run_id
    # the halted run, continued by the operator's retry, runs again
    assert retried.status == "RETRYING"
    assert terminated.status == "TERMINATING"
    assert succeeded.status is RunStatus.SUCCEEDED


def test_the_official_sdk_reports_errors_with_code_and_request_id(
    server: Server,
) -> None:
    """An unknown instance is a ClientRequestException: 404, code, request id."""
    key = access_key(server)
    client = sdk_client(server, key)

    with pytest.raises(ClientRequestException) as raised:
        client.show_playbook_instance(
            ShowPlaybookInstanceRequest(workspace_id=WORKSPACE, instance_id="nope")
        )

    assert raised.value.status_code == 404
    assert raised.value.error_code == "SecMaster.00040401"
    assert raised.value.request_id


def test_the_official_sdk_with_a_wrong_secret_is_refused(server: Server) -> None:
    """A wrong secret key: 401 with SecMaster's code."""
    key = access_key(server)
    client = sdk_client(server, AccessKey(key.ak, "W" * 40))

    with pytest.raises(ClientRequestException) as raised:
        client.list_playbook_instances(
            ListPlaybookInstancesRequest(workspace_id=WORKSPACE, limit=1, offset=0)
        )

    assert raised.value.status_code == 401
    assert raised.value.error_code == "SecMaster.00040101"


def test_the_official_sdk_reads_a_refusal_in_secmaster_s_words(
    server: Server,
) -> None:
    """A RETRY the status refuses: 400, the code, the instance's status, the id."""
    runtime = server.runtime
    key = access_key(server)
    running = server.call(running_slow_run(runtime, workspace=WORKSPACE))
    client = sdk_client(server, key)

    with pytest.raises(ClientRequestException) as raised:
        client.change_playbook_instance(
            ChangePlaybookInstanceRequest(
                workspace_id=WORKSPACE,
                instance_id=running.run_id,
                body=OperationPlaybookInfo(operation="RETRY"),
            )
        )
    client.change_playbook_instance(
        ChangePlaybookInstanceRequest(
            workspace_id=WORKSPACE,
            instance_id=running.run_id,
            body=OperationPlaybookInfo(operation="TERMINATE"),
        )
    )

    assert raised.value.status_code == 400
    assert raised.value.error_code == "SecMaster.00040009"
    assert raised.value.error_msg == (
        f"Cannot RETRY playbook instance {running.run_id}: it is RUNNING; "
        "only a FAILED playbook instance can be retried."
    )
    assert raised.value.request_id


def test_the_official_sdk_gets_a_request_id_even_from_a_failure(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure of the server is SecMaster's 500, with the code and X-request-id."""

    async def broken(*_: Any) -> None:
        msg = "a bug"
        raise RuntimeError(msg)

    monkeypatch.setattr(Instances, "page", broken)
    client = sdk_client(server, access_key(server))

    with pytest.raises(ServerResponseException) as raised:
        client.list_playbook_instances(
            ListPlaybookInstancesRequest(workspace_id=WORKSPACE, limit=1, offset=0)
        )

    assert raised.value.status_code == 500
    assert raised.value.error_code == "SecMaster.00050001"
    assert raised.value.error_msg == "Internal server error"
    assert raised.value.request_id
