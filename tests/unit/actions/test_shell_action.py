"""
Tests of the shell action with real subprocesses.
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from action_helpers import LogRecorder, is_gone

from onward.actions import ActionContext
from onward.actions.shell import ShellAction
from onward.worker.runner import run_action

SHORT = timedelta(seconds=2)


async def test_a_successful_command_captures_its_output(ctx: ActionContext) -> None:
    """Exit code 0 is success, with stdout and stderr in the output."""
    result = await ShellAction().run({"command": "echo out; echo err >&2"}, ctx)

    assert result.ok
    assert result.output == {
        "exit_code": 0,
        "stdout": "out\n",
        "stderr": "err\n",
        "truncated": False,
    }


async def test_every_line_is_streamed_to_the_run_log(
    ctx: ActionContext, log: LogRecorder
) -> None:
    """Each line goes to the run log with its stream, an unfinished last one too."""
    await ShellAction().run({"command": "echo one; echo two >&2; printf three"}, ctx)

    assert log.of("stdout") == ["one", "three"]
    assert log.of("stderr") == ["two"]


async def test_a_failure_names_the_exit_code_and_the_last_stderr_line(
    ctx: ActionContext,
) -> None:
    """A non-zero exit is a retryable failure that says what went wrong."""
    command = (
        "echo starting; echo 'warning: slow' >&2; echo 'fatal: no route' >&2; exit 3"
    )

    result = await ShellAction().run({"command": command}, ctx)

    assert not result.ok
    assert result.retryable
    assert result.error == "command exited with code 3: fatal: no route"
    assert result.output["exit_code"] == 3


async def test_ok_codes_decide_which_exit_codes_are_success(ctx: ActionContext) -> None:
    """An exit code listed in ok_codes is success."""
    result = await ShellAction().run({"command": "exit 1", "ok_codes": [0, 1]}, ctx)

    assert result.ok


async def test_a_command_killed_by_a_signal_says_which(ctx: ActionContext) -> None:
    """A command that dies of a signal is reported with the signal's name."""
    result = await ShellAction().run({"command": "kill -KILL $$"}, ctx)

    assert not result.ok
    assert result.error == "command was killed by signal SIGKILL"


async def test_env_is_added_and_cwd_is_used(ctx: ActionContext, tmp_path: Path) -> None:
    """Variables from env join the environment; the command runs in cwd."""
    inputs = {
        "command": 'echo "$GREETING $PATH_IS_SET"; pwd',
        "env": {"GREETING": "hello", "PATH_IS_SET": 1},
        "cwd": str(tmp_path),
    }

    result = await ShellAction().run(inputs, ctx)

    assert result.output["stdout"] == f"hello 1\n{tmp_path}\n"
    assert os.environ.get("GREETING") is None


async def test_output_beyond_max_output_is_dropped_and_counted(
    ctx: ActionContext, log: LogRecorder
) -> None:
    """Only max_output bytes of each stream are kept; the drop is noted."""
    inputs = {"command": "printf 0123456789; printf abcdef >&2", "max_output": "4"}

    result = await ShellAction().run(inputs, ctx)

    assert result.output["stdout"] == "0123"
    assert result.output["stderr"] == "abcd"
    assert result.output["truncated"] is True
    assert log.of("stdout") == ["0123456789"]
    assert "stdout truncated: kept the first 4 bytes, dropped 6" in log.of("info")


async def test_a_missing_cwd_is_a_failure_retrying_cannot_fix(
    ctx: ActionContext,
) -> None:
    """A command that cannot start fails at once, not retryable."""
    inputs = {"command": "true", "cwd": "/nonexistent/onward"}

    result = await ShellAction().run(inputs, ctx)

    assert not result.ok
    assert not result.retryable
    assert result.error is not None
    assert result.error.startswith("cannot start the command:")


async def test_invalid_inputs_at_run_time_fail_without_running(
    ctx: ActionContext,
) -> None:
    """Rendered inputs that are still invalid are a non-retryable failure."""
    result = await ShellAction().run({"command": "true", "max_output": "lots"}, ctx)

    assert not result.ok
    assert not result.retryable
    assert (
        result.error
        == "invalid inputs: with.max_output: must be an integer, not 'lots'"
    )


async def test_the_timeout_input_stops_the_command_and_keeps_its_output(
    ctx: ActionContext,
) -> None:
    """A command running past its own timeout is stopped and reported timed out."""
    inputs = {"command": "echo started; exec sleep 60", "timeout": "200ms"}

    result = await ShellAction().run(inputs, ctx)

    assert not result.ok
    assert result.timed_out
    assert result.error == "command timed out after 0.2s"
    assert result.output["stdout"] == "started\n"


async def test_force_cancel_kills_the_command_and_its_background_child(
    ctx: ActionContext, log: LogRecorder
) -> None:
    """Cancelling leaves neither the foreground nor the background process alive."""
    cancel = asyncio.Event()
    inputs = {"command": "sleep 60 & echo $!; echo $$; exec sleep 60", "kill_grace": 1}
    running = asyncio.create_task(
        run_action(ShellAction(), inputs, ctx, timeout=SHORT, cancel=cancel)
    )
    pids = [int(line) for line in await log.wait_for("stdout", 2)]

    cancel.set()
    result = await running

    assert result.cancelled
    assert all(is_gone(pid) for pid in pids)


async def test_processes_ignoring_sigterm_are_killed_after_the_grace_period(
    ctx: ActionContext, log: LogRecorder
) -> None:
    """SIGKILL follows SIGTERM for processes that ignore it."""
    cancel = asyncio.Event()
    command = "trap '' TERM; sleep 60 & echo $!; echo $$; wait"
    inputs = {"command": command, "kill_grace": "100ms"}
    running = asyncio.create_task(
        run_action(ShellAction(), inputs, ctx, timeout=SHORT, cancel=cancel)
    )
    pids = [int(line) for line in await log.wait_for("stdout", 2)]

    cancel.set()
    result = await running

    assert result.cancelled
    assert all(is_gone(pid) for pid in pids)


async def test_a_child_that_left_the_process_group_is_killed_too(
    ctx: ActionContext, log: LogRecorder
) -> None:
    """A descendant in a session of its own is found and stopped as well."""
    cancel = asyncio.Event()
    inputs = {"command": "setsid sleep 60 & echo $!; exec sleep 60", "kill_grace": 1}
    running = asyncio.create_task(
        run_action(ShellAction(), inputs, ctx, timeout=SHORT, cancel=cancel)
    )
    (child,) = await log.wait_for("stdout", 1)

    cancel.set()
    result = await running

    assert result.cancelled
    assert is_gone(int(child))


async def test_cancelling_the_task_propagates_after_cleanup(
    ctx: ActionContext, log: LogRecorder
) -> None:
    """Cancelling run() directly kills the command and re-raises CancelledError."""
    inputs = {"command": "echo $$; exec sleep 60", "kill_grace": 1}
    running = asyncio.create_task(ShellAction().run(inputs, ctx))
    (pid,) = await log.wait_for("stdout", 1)

    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    assert is_gone(int(pid))


async def test_background_processes_holding_the_output_do_not_hold_the_step(
    ctx: ActionContext,
) -> None:
    """The step ends when the shell exits, though a background child holds its pipes."""
    result = await run_action(
        ShellAction(),
        {"command": "sleep 60 & echo $!"},
        ctx,
        timeout=SHORT,
        cancel=asyncio.Event(),
    )
    background = int(result.output["stdout"])
    os.kill(background, signal.SIGKILL)

    assert result.ok
    assert not result.timed_out


def test_check_accepts_valid_inputs_and_templates_anywhere() -> None:
    """Valid inputs pass; template strings stand in for any value."""
    inputs = {
        "command": "ssh {{ target.vars.ip }} uptime",
        "env": {"TOKEN": "{{ run.params.token }}"},
        "cwd": "/tmp",
        "timeout": "{{ run.params.timeout }}",
        "max_output": "{{ run.params.cap }}",
        "ok_codes": "{{ run.params.codes }}",
        "kill_grace": "2s",
    }

    assert ShellAction().check(inputs) == []


def test_check_reports_every_problem_with_its_path() -> None:
    """Each invalid input is reported at its own path."""
    inputs = {
        "env": {"A": ["x"]},
        "max_output": -1,
        "ok_codes": ["zero"],
        "kill_grace": "soon",
        "shell": "bash",
    }

    problems = {
        problem.path: problem.message for problem in ShellAction().check(inputs)
    }

    assert sorted(problems) == [
        "command",
        "env.A",
        "kill_grace",
        "max_output",
        "ok_codes",
        "shell",
    ]
    assert problems["command"] == "is required"
    assert problems["shell"].startswith("unknown input; expected one of: command, env")
