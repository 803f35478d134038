"""
The ``onward`` command against a fresh SQLite file, through click's CliRunner.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result

from onward.cli import onward
from onward.config import Settings
from onward.runtime import Runtime

GOOD_PLAN = """\
name: rollout
params:
  ticket: {type: string, default: CHG-1}
groups:
  - name: web
    parallel: 2
    targets: [w1, w2]
    steps:
      - {name: hello, action: shell, with: {command: "echo hello {{ target.name }}"}}
      - {name: check, action: shell, with: {command: "test {{ target.name }} != w2"}}
      - {name: done, action: noop}
"""

BAD_PLAN = """\
name: broken
groups:
  - name: web
    parallel: 0
    targets: [w1]
    steps:
      - name: hello
        action: shell
        timeout: soon
      - name: bye
        action: noop
        colour: blue
"""

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the caller's Onward settings out, and structlog as it was."""
    for name in ("ONWARD_DATABASE_URL", "ONWARD_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    yield
    structlog.reset_defaults()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Return the URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'onward.db'}"


@pytest.fixture
def invoke(db_url: str) -> Invoke:
    """Return a function running ``onward --db URL --actor tester ARGS``."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(onward, ["--db", db_url, "--actor", "tester", *args])

    return run


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    """Return the path of a valid plan file."""
    path = tmp_path / "rollout.yaml"
    path.write_text(GOOD_PLAN)
    return path


@pytest.fixture
def started(invoke: Invoke, plan_file: Path) -> str:
    """Apply the plan, start a run of it and return the run's id."""
    invoke("plan", "apply", "-f", str(plan_file))
    result = invoke("run", "start", "rollout")
    match = re.search(r"run (run_\w+)", result.stdout)
    assert match is not None, result.output
    return match.group(1)


def show(invoke: Invoke, run_id: str) -> dict[str, Any]:
    """Return ``run show --json`` of a run."""
    result = invoke("run", "show", run_id, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def carry_out(db_url: str) -> None:
    """Carry out every queued attempt of the database, as `onward serve` would."""

    async def work() -> None:
        settings = Settings(database_url=db_url, poll_interval=0.05)
        runtime = Runtime.open(settings, executes=True)
        await runtime.start()
        assert runtime.executor is not None
        await runtime.executor.drain()
        await runtime.close()

    asyncio.run(work())


@pytest.fixture
def server(db_url: str) -> Iterator[None]:
    """Run a server's runtime (no HTTP) on the database in a background thread."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        settings = Settings(
            database_url=db_url, poll_interval=0.05, heartbeat_interval=0.2
        )
        runtime = Runtime.open(settings, executes=True)
        await runtime.start()
        await stop.wait()
        await runtime.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),))
    thread.start()
    yield
    loop.call_soon_threadsafe(stop.set)
    thread.join(timeout=30)
    loop.close()


# -- plans -----------------------------------------------------------------------


def test_validate_accepts_a_good_plan(invoke: Invoke, plan_file: Path) -> None:
    """A valid plan file is reported valid with its size, and exits 0."""
    result = invoke("plan", "validate", str(plan_file))

    assert result.exit_code == 0, result.output
    assert "valid plan rollout (1 group, 2 targets, 3 steps)" in result.stdout


def test_validate_reports_every_problem_with_its_line(
    invoke: Invoke, tmp_path: Path
) -> None:
    """Each problem of an invalid plan is printed as FILE:LINE: path: message."""
    path = tmp_path / "broken.yaml"
    path.write_text(BAD_PLAN)

    result = invoke("plan", "validate", str(path))

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"{path}:4: groups[0].parallel: must be at least 1, got 0"
    assert lines[1].startswith(
        f"{path}:9: groups[0].steps[0].timeout: invalid duration"
    )
    assert lines[2] == f"{path}:12: groups[0].steps[1].colour: unknown key 'colour'"
    assert lines[3] == f"{path}:7: groups[0].steps[0].with.command: is required"
    assert len(lines) == 4
    assert "Traceback" not in result.output


def test_validate_reports_a_syntax_error_once(invoke: Invoke, tmp_path: Path) -> None:
    """A YAML syntax error is one line naming the file, line and column."""
    path = tmp_path / "syntax.yaml"
    path.write_text("name: x\ngroups: [\n")

    result = invoke("plan", "validate", str(path))

    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}: invalid YAML at line 3, column 1")


def test_apply_makes_a_new_version_only_when_the_plan_changes(
    invoke: Invoke, plan_file: Path
) -> None:
    """Applying an identical plan keeps its version; a changed one gets the next."""
    first = invoke("plan", "apply", "-f", str(plan_file))
    again = invoke("plan", "apply", "-f", str(plan_file))
    plan_file.write_text(GOOD_PLAN.replace("CHG-1", "CHG-2"))
    changed = invoke("plan", "apply", "-f", str(plan_file))
    listed = invoke("plan", "list")

    assert first.stdout == "rollout version 1 applied\n"
    assert again.stdout == "rollout version 1 unchanged\n"
    assert changed.stdout == "rollout version 2 applied\n"
    assert re.search(r"rollout\s+v2", listed.stdout)


def test_apply_of_an_invalid_plan_stores_nothing(
    invoke: Invoke, tmp_path: Path
) -> None:
    """An invalid plan is refused with its problems located, and not stored."""
    path = tmp_path / "broken.yaml"
    path.write_text(BAD_PLAN)

    result = invoke("plan", "apply", "-f", str(path))

    assert result.exit_code == 1
    assert f"{path}:4: groups[0].parallel" in result.stderr
    assert "No plans" in invoke("plan", "list").stdout


def test_plan_show_prints_a_version_and_its_source(
    invoke: Invoke, plan_file: Path
) -> None:
    """`plan show` describes a version; with --source it prints the text as applied."""
    invoke("plan", "apply", "-f", str(plan_file))
    plan_file.write_text(GOOD_PLAN.replace("CHG-1", "CHG-2"))
    invoke("plan", "apply", "-f", str(plan_file))

    summary = invoke("plan", "show", "rollout")
    source = invoke("plan", "show", "rollout", "--version", "1", "--source")

    assert "Plan rollout v2" in summary.stdout
    assert "versions: 1, 2" in summary.stdout
    assert "ticket" in summary.stdout
    assert source.stdout == GOOD_PLAN


def test_plan_show_of_an_unknown_plan_exits_3(invoke: Invoke) -> None:
    """An unknown plan is reported on stderr with exit code 3."""
    result = invoke("plan", "show", "nope")

    assert result.exit_code == 3
    assert result.stderr == "Error: Plan not found: nope\n"


def test_a_disabled_plan_is_shown_so_and_starts_no_run_until_enabled(
    invoke: Invoke, plan_file: Path
) -> None:
    """`plan disable` stops runs (exit 4 naming the fix); `plan enable` lets them."""
    invoke("plan", "apply", "-f", str(plan_file))

    disabled = invoke("plan", "disable", "rollout", "--reason", "freeze")
    again = invoke("plan", "disable", "rollout")
    listed = invoke("plan", "list")
    shown = invoke("plan", "show", "rollout")
    refused = invoke("run", "start", "rollout")
    enabled = invoke("plan", "enable", "rollout")
    started = invoke("run", "start", "rollout")
    missing = invoke("plan", "enable", "nope")

    assert disabled.exit_code == again.exit_code == 0, disabled.output
    assert disabled.stdout == again.stdout
    assert "Plan rollout is disabled" in disabled.stdout
    assert re.search(r"rollout\s+v1\s+.*disabled", listed.stdout)
    assert "disabled" in shown.stdout
    assert refused.exit_code == 4
    assert "onward plan enable rollout" in refused.stderr
    assert enabled.stdout == "Plan rollout is enabled: it may start runs.\n"
    assert started.exit_code == 0, started.output
    assert re.search(r"rollout\s+v1\s+.*enabled", invoke("plan", "list").stdout)
    assert missing.exit_code == 3


# -- runs ------------------------------------------------------------------------


def test_run_start_queues_the_first_step(invoke: Invoke, started: str) -> None:
    """A started run has its first attempts queued for a server and nothing run."""
    data = show(invoke, started)

    steps = data["groups"][0]["targets"][0]["steps"]
    assert data["status"] == "running"
    assert data["params"] == {"ticket": "CHG-1"}
    assert [a["status"] for a in steps[0]["attempts"]] == ["queued"]
    assert steps[1]["attempts"] == []


def test_run_start_converts_parameters_from_text(
    invoke: Invoke, plan_file: Path
) -> None:
    """`--param NAME=VALUE` sets a run parameter; an unknown one is invalid input."""
    invoke("plan", "apply", "-f", str(plan_file))

    good = invoke("run", "start", "rollout", "--param", "ticket=CHG-7")
    unknown = invoke("run", "start", "rollout", "--param", "colour=blue")
    shapeless = invoke("run", "start", "rollout", "--param", "ticket")

    assert good.exit_code == 0, good.output
    assert unknown.exit_code == 1
    assert "params.colour: unknown parameter 'colour'" in unknown.stderr
    assert shapeless.exit_code == 2


def test_run_start_of_an_unknown_plan_exits_3(invoke: Invoke) -> None:
    """Starting a plan that does not exist exits 3."""
    result = invoke("run", "start", "nope")

    assert result.exit_code == 3
    assert "Plan not found: nope" in result.stderr


def test_run_list_shows_runs_and_filters_by_status(
    invoke: Invoke, started: str
) -> None:
    """`run list` shows the run; a status filter that matches nothing hides it."""
    everything = invoke("run", "list")
    succeeded = invoke("run", "list", "--status", "succeeded")

    assert started in everything.stdout
    assert "rollout v1" in everything.stdout
    assert started not in succeeded.stdout


def test_run_show_prints_the_tree(invoke: Invoke, started: str) -> None:
    """`run show` prints the run's header and a row per step or untouched target."""
    result = invoke("run", "show", started)

    assert result.exit_code == 0, result.output
    assert f"Run {started}" in result.stdout
    assert re.search(r"web\s+w1\s+hello\s+queued\s+1", result.stdout)


def test_continue_of_a_run_that_is_not_halted_is_a_conflict(
    invoke: Invoke, started: str
) -> None:
    """Continuing a running run exits 4, says why, and writes nothing."""
    before = show(invoke, started)
    audit_before = invoke("run", "audit", started).stdout

    result = invoke("run", "continue", started, "--option", "retry-step")

    assert result.exit_code == 4
    assert "Cannot continue" in result.stderr
    assert "'running'" in result.stderr
    assert "halted" in result.stderr
    assert "Traceback" not in result.output
    assert show(invoke, started) == before
    assert invoke("run", "audit", started).stdout == audit_before


def test_continue_with_an_unknown_option_is_a_usage_error(
    invoke: Invoke, started: str
) -> None:
    """An option outside the six is refused by click with exit code 2."""
    result = invoke("run", "continue", started, "--option", "retry-everything")

    assert result.exit_code == 2
    assert "retry-step" in result.stderr


def test_retry_of_a_run_that_did_not_fail_is_a_conflict(
    invoke: Invoke, started: str
) -> None:
    """Retrying a run that is not failed exits 4 with the reason."""
    result = invoke("run", "retry", started)

    assert result.exit_code == 4
    assert "Cannot retry" in result.stderr


def test_cancel_of_a_finished_run_is_a_conflict(invoke: Invoke, started: str) -> None:
    """A run cancelled once cannot be cancelled again: exit 4."""
    first = invoke("run", "cancel", started, "--reason", "wrong window")
    second = invoke("run", "cancel", started)

    assert first.exit_code == 0, first.output
    assert show(invoke, started)["status"] == "cancelled"
    assert second.exit_code == 4
    assert "Cannot cancel" in second.stderr
    assert "wrong window" in invoke("run", "audit", started).stdout


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("show",), id="show"),
        pytest.param(("continue", "--option", "retry-step"), id="continue"),
        pytest.param(("retry",), id="retry"),
        pytest.param(("cancel",), id="cancel"),
        pytest.param(("approve",), id="approve"),
        pytest.param(("logs",), id="logs"),
        pytest.param(("audit",), id="audit"),
    ],
)
def test_an_unknown_run_exits_3(invoke: Invoke, args: tuple[str, ...]) -> None:
    """Every run command names the unknown run on stderr and exits 3."""
    command, *options = args

    result = invoke("run", command, "run_nope", *options)

    assert result.exit_code == 3
    assert result.stderr == "Error: Run not found: run_nope\n"


def test_a_halted_run_shows_its_halt_point_and_goes_on(
    invoke: Invoke, started: str, db_url: str
) -> None:
    """A halt is shown with the commands to continue; proceed-step finishes the run."""
    carry_out(db_url)
    halted = invoke("run", "show", started)

    went_on = invoke("run", "continue", started, "--option", "proceed-step")
    carry_out(db_url)
    logs = invoke("run", "logs", started)
    audit = invoke("run", "audit", started)

    assert "Halted at 1 point" in halted.stdout
    assert "web / w2 / check: command exited with code 1" in halted.stdout
    assert f"onward run continue {started} --option retry-step" in halted.stdout
    assert went_on.exit_code == 0, went_on.output
    assert show(invoke, started)["status"] == "succeeded"
    assert "web / w1 / hello #1  hello w1" in logs.stdout
    assert re.search(r"tester\s+continue\s+halted → running", audit.stdout)


def test_wait_exits_by_how_the_run_rests(
    invoke: Invoke, plan_file: Path, server: None
) -> None:
    """`--wait` exits 10 when the run halts, then 0 when it succeeds."""
    invoke("plan", "apply", "-f", str(plan_file))

    halted = invoke("run", "start", "rollout", "--wait")
    run_id = re.findall(r"run (run_\w+)", halted.stdout)[0]
    succeeded = invoke("run", "continue", run_id, "--option", "proceed-step", "--wait")

    assert halted.exit_code == 10, halted.output
    assert "web / w2 / check: failed" in halted.stdout
    assert f"onward run continue {run_id} --option proceed-step" in halted.stdout
    assert succeeded.exit_code == 0, succeeded.output
    assert f"run {run_id}: succeeded (1 warning)" in succeeded.stdout


APPROVAL_PLAN = """\
name: gated
groups:
  - name: web
    targets: [w1]
    steps:
      - {name: go ahead, action: approval, with: {message: "Fail over now?"}}
      - {name: done, action: noop}
"""


def wait_for_status(invoke: Invoke, run_id: str, status: str) -> dict[str, Any]:
    """Poll `run show --json` until the run has ``status`` (bounded)."""
    deadline = time.monotonic() + 30
    data = show(invoke, run_id)
    while data["status"] != status and time.monotonic() < deadline:
        time.sleep(0.05)
        data = show(invoke, run_id)
    assert data["status"] == status
    return data


@pytest.mark.parametrize(
    ("decision", "status"),
    [pytest.param("approve", "succeeded"), pytest.param("reject", "halted")],
)
def test_an_approval_waits_for_a_decision(
    invoke: Invoke, tmp_path: Path, server: None, decision: str, status: str
) -> None:
    """A waiting run shows how to decide; approving finishes it, rejecting halts it."""
    path = tmp_path / "gated.yaml"
    path.write_text(APPROVAL_PLAN)
    invoke("plan", "apply", "-f", str(path))
    run_id = re.findall(r"run (run_\w+)", invoke("run", "start", "gated").stdout)[0]
    wait_for_status(invoke, run_id, "waiting")

    shown = invoke("run", "show", run_id)
    decided = invoke("run", decision, run_id, "--comment", "checked the lag")
    final = wait_for_status(invoke, run_id, status)

    assert "Waiting for approval:" in shown.stdout
    assert f"onward run approve {run_id}" in shown.stdout
    assert decided.exit_code == 0, decided.output
    assert final["status"] == status
    assert "checked the lag" in invoke("run", "audit", run_id).stdout


def test_logs_follow_prints_lines_until_the_run_rests(
    invoke: Invoke, started: str, server: None
) -> None:
    """`run logs --follow` prints the steps' lines as they come and ends at the halt."""
    result = invoke("run", "logs", started, "--follow")

    assert result.exit_code == 0, result.output
    assert "web / w1 / hello #1  hello w1" in result.stdout
    assert "web / w2 / hello #1  hello w2" in result.stdout
    assert show(invoke, started)["status"] == "halted"
