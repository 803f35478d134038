"""
The CLI over the API: a real `onward serve`, `onward login`, plans, runs and keys.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdksecmaster.v1 import ListPlaybookInstancesRequest, SecMasterClient

from processes import free_port

ADMIN = "admin"
PASSWORD = "correct horse battery"  # noqa: S105 - a test account
START_TIMEOUT = 30.0
HALTING_PLAN = """\
name: halting
groups:
  - name: g
    targets: [a, b]
    steps:
      - {name: greet, action: shell, with: {command: "echo hello {{ target.name }}"}}
      - {name: check, action: shell, with: {command: "test {{ target.name }} != b"}}
"""


def server_env(tmp_path: Path) -> dict[str, str]:
    """Return an environment with an admin to create and a private config dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONWARD_")}
    env.update(
        ONWARD_HEARTBEAT_INTERVAL="0.2",
        ONWARD_POLL_INTERVAL="0.2",
        ONWARD_ADMIN_USERNAME=ADMIN,
        ONWARD_ADMIN_PASSWORD=PASSWORD,
        ONWARD_CONFIG_DIR=str(tmp_path / "config"),
        ONWARD_DATABASE_URL=f"sqlite:///{tmp_path / 'onward.db'}",
        TMPDIR=str(tmp_path),
    )
    return env


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, **tls: str) -> None:
    """Poll /healthz until the server answers; fail if it exits first."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            if httpx.get(f"{url}/healthz", verify=tls.get("verify", True)).is_success:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("the server did not start")


def start_server(
    tmp_path: Path, env: dict[str, str], *extra: str
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Start `onward serve` on a free port; stop it afterwards."""
    port = free_port()
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "onward", "serve", "--port", str(port), *extra],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=30)


def cli(
    env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `onward ARGS` (no --db: the CLI goes through the server)."""
    client_env = {k: v for k, v in env.items() if k != "ONWARD_DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "onward", *args],
        env=client_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def log_in(
    env: dict[str, str], url: str, password: str = PASSWORD
) -> subprocess.CompletedProcess[str]:
    """Run `onward login` as the admin, the password on stdin."""
    return cli(
        env,
        "login",
        "--url",
        url,
        "--username",
        ADMIN,
        "--password-stdin",
        stdin=password,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Return the environment of the server and the CLI."""
    return server_env(tmp_path)


def serve(tmp_path: Path, env: dict[str, str]) -> Iterator[str]:
    """Start `onward serve` in the environment; yield its URL once it is healthy."""
    for process, port in start_server(tmp_path, env):
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(process, base)
        yield base


@pytest.fixture
def url(tmp_path: Path, env: dict[str, str]) -> Iterator[str]:
    """Yield the URL of a running `onward serve`."""
    yield from serve(tmp_path, env)


def test_login_saves_a_private_token_and_commands_go_over_the_api(
    url: str, env: dict[str, str], tmp_path: Path
) -> None:
    """Login writes a 0600 file; plan apply and run start --wait use the API."""
    plan_file = tmp_path / "halting.yaml"
    plan_file.write_text(HALTING_PLAN)
    login = log_in(env, url, PASSWORD + "\n")
    saved = tmp_path / "config" / "credentials.json"
    applied = cli(env, "plan", "apply", "-f", str(plan_file))
    started = cli(env, "run", "start", "halting", "--wait")
    run_id = started.stdout.split()[2].rstrip(":")
    went_on = cli(env, "run", "continue", run_id, "--option", "proceed-step", "--wait")
    listed = cli(env, "run", "list")
    logout = cli(env, "logout")
    after = cli(env, "run", "list")

    assert login.returncode == 0, login.stderr
    assert applied.stdout.strip() == "halting version 1 applied"
    assert started.returncode == 10, started.stdout + started.stderr
    assert went_on.returncode == 0, went_on.stdout + went_on.stderr
    assert run_id in listed.stdout
    assert logout.returncode == 0
    assert not saved.exists()
    assert after.returncode == 2
    assert "onward login" in after.stderr


def test_the_credentials_file_is_private(
    url: str, env: dict[str, str], tmp_path: Path
) -> None:
    """The saved credentials are mode 0600 in a 0700 directory."""
    log_in(env, url)
    saved = tmp_path / "config" / "credentials.json"

    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    assert '"token": "onw_' in saved.read_text()


def test_exit_codes_over_the_api(url: str, env: dict[str, str], tmp_path: Path) -> None:
    """Not found exits 3 and an impossible command (conflict) exits 4."""
    plan_file = tmp_path / "halting.yaml"
    plan_file.write_text(HALTING_PLAN.replace("!= b", "!= z"))
    log_in(env, url)
    cli(env, "plan", "apply", "-f", str(plan_file))
    started = cli(env, "run", "start", "halting", "--wait")
    run_id = started.stdout.split()[2].rstrip(":")
    missing = cli(env, "run", "show", "run_missing")
    conflict = cli(env, "run", "continue", run_id, "--option", "retry-step")
    wrong = log_in(env, url, "wrong password")

    assert started.returncode == 0, started.stdout + started.stderr
    assert missing.returncode == 3, missing.stderr
    assert conflict.returncode == 4, conflict.stderr
    assert wrong.returncode == 1


def test_plans_are_disabled_and_enabled_over_the_api(
    url: str, env: dict[str, str], tmp_path: Path
) -> None:
    """A plan disabled with the CLI shows so and starts no run until enabled."""
    plan_file = tmp_path / "halting.yaml"
    plan_file.write_text(HALTING_PLAN)
    log_in(env, url)
    cli(env, "plan", "apply", "-f", str(plan_file))
    disabled = cli(env, "plan", "disable", "halting", "--reason", "CHG-5 freeze")
    listed = cli(env, "plan", "list")
    shown = cli(env, "plan", "show", "halting")
    refused = cli(env, "run", "start", "halting")
    enabled = cli(env, "plan", "enable", "halting")
    started = cli(env, "run", "start", "halting")
    missing = cli(env, "plan", "disable", "nope")

    assert disabled.returncode == 0, disabled.stderr
    assert disabled.stdout.startswith("Plan halting is disabled")
    assert "disabled" in listed.stdout
    assert "halting v1" in shown.stdout
    assert "disabled" in shown.stdout
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "disabled" in refused.stderr
    assert "onward plan enable halting" in refused.stderr
    assert enabled.stdout.strip() == "Plan halting is enabled: it may start runs."
    assert started.returncode == 0, started.stdout + started.stderr
    assert missing.returncode == 3, missing.stderr


# -- API keys and access keys ---------------------------------------------------------

MASTER = "acceptance-master-secret-0123456789ab"
PROJECT = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def keys_env(env: dict[str, str]) -> dict[str, str]:
    """Return the environment of a server with access keys on, and of the CLI."""
    return {**env, "ONWARD_ACCESS_KEY_MASTER": MASTER}


@pytest.fixture
def keys_url(tmp_path: Path, keys_env: dict[str, str]) -> Iterator[str]:
    """Yield the URL of a running `onward serve` with access keys on."""
    yield from serve(tmp_path, keys_env)


def shown(output: str, label: str) -> str:
    """Return the value printed after ``label:`` on a line of the output."""
    for line in output.splitlines():
        if line.startswith(f"{label}:"):
            return line.removeprefix(f"{label}:").strip()
    pytest.fail(f"no {label!r} line in {output!r}")


def sdk_status(url: str, ak: str, sk: str) -> int:
    """List playbook instances with the official SecMaster SDK; return the status."""
    client = (
        SecMasterClient.new_builder()
        .with_credentials(BasicCredentials(ak, sk, PROJECT))
        .with_endpoint(url)
        .build()
    )
    request = ListPlaybookInstancesRequest(workspace_id="default", limit=1, offset=0)
    try:
        client.list_playbook_instances(request)
    except ClientRequestException as exc:
        return int(exc.status_code)
    return 200


def test_access_keys_are_made_listed_and_revoked_with_the_cli(
    keys_url: str, keys_env: dict[str, str]
) -> None:
    """The AK/SK printed once sign SDK requests until `access-key revoke`."""
    log_in(keys_env, keys_url)
    made = cli(
        keys_env,
        *("access-key", "create", "sdk", "--workspace", "default"),
        *("--role", "operator", "--expires-in", "30d"),
    )
    ak, sk = shown(made.stdout, "Access key id"), shown(made.stdout, "Secret key")
    signed = sdk_status(keys_url, ak, sk)
    listed = cli(keys_env, "access-key", "list")
    as_json = cli(keys_env, "access-key", "list", "--json")
    revoked = cli(keys_env, "access-key", "revoke", ak)
    after = cli(keys_env, "access-key", "list")
    refused = sdk_status(keys_url, ak, sk)
    missing = cli(keys_env, "access-key", "revoke", "ONWNOSUCHKEY00000000")

    assert made.returncode == 0, made.stderr
    assert f"Access key {ak} (sdk) created: workspace default only" in made.stdout
    assert "not shown again" in made.stderr
    assert len(sk) == 40
    assert signed == 200
    assert ak in listed.stdout
    assert "active" in listed.stdout
    assert sk not in listed.stdout + as_json.stdout
    assert [k["access_key_id"] for k in json.loads(as_json.stdout)] == [ak]
    assert "secret_key" not in json.loads(as_json.stdout)[0]
    assert revoked.stdout.strip() == f"Access key {ak} revoked."
    assert "revoked" in after.stdout
    assert refused == 401
    assert missing.returncode == 3, missing.stderr


def test_api_keys_are_made_listed_and_revoked_with_the_cli(
    url: str, env: dict[str, str]
) -> None:
    """`api-key create --json` prints the secret once; it works until revoked."""
    log_in(env, url)
    made = cli(env, "api-key", "create", "ci", "--role", "viewer", "--json")
    key = json.loads(made.stdout)
    bearer = {"Authorization": f"Bearer {key['secret']}"}
    me = httpx.get(f"{url}/api/v1/me", headers=bearer)
    listed = cli(env, "api-key", "list")
    revoked = cli(env, "api-key", "revoke", key["key_id"])
    after = httpx.get(f"{url}/api/v1/me", headers=bearer)
    bad_role = cli(env, "api-key", "create", "x", "--role", "boss")
    bad_lifetime = cli(env, "api-key", "create", "x", "--expires-in", "soon")
    too_short = cli(env, "api-key", "create", "x", "--expires-in", "10s")

    assert made.returncode == 0, made.stderr
    assert key["secret"].startswith("onw_")
    assert key["role"] == "viewer"
    assert "not shown again" in made.stderr
    assert me.json()["role_limit"] == "viewer"
    assert key["key_id"] in listed.stdout
    assert key["secret"] not in listed.stdout
    assert revoked.returncode == 0, revoked.stderr
    assert after.status_code == 401
    assert bad_role.returncode == bad_lifetime.returncode == 2
    assert too_short.returncode == 1
    assert "expires_in" in too_short.stderr


def test_access_keys_off_exit_4_naming_the_setting(
    url: str, env: dict[str, str]
) -> None:
    """A server without ONWARD_ACCESS_KEY_MASTER: create exits 4 and says so."""
    no_server = cli(env, "access-key", "list")
    log_in(env, url)
    made = cli(env, "access-key", "create", "sdk")
    listed = cli(env, "access-key", "list")

    assert no_server.returncode == 2
    assert "onward login" in no_server.stderr
    assert "--db" not in no_server.stderr
    assert made.returncode == 4
    assert "ONWARD_ACCESS_KEY_MASTER" in made.stderr
    assert listed.returncode == 0, listed.stderr
    assert "No access keys" in listed.stdout
