"""
The ``shell`` action: runs ``/bin/sh -c <command>``, streams and captures its output.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from onward.actions._inputs import InputReader, invalid_inputs
from onward.actions._process import terminate_tree
from onward.actions.base import ActionContext, ActionResult, LogSink
from onward.errors import Problem

#: the shell every command runs in
SHELL: Final = "/bin/sh"
#: a line longer than this is streamed to the run log in pieces
_LINE_LIMIT: Final = 64 * 1024
#: how long output is still read once the command exited (background children
#: may hold its pipes open; they are left running, but no longer read)
_DRAIN_SECONDS: Final = 1.0
#: how long to wait for the exit status of a command that was just killed
_REAP_SECONDS: Final = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class _Command:
    command: str
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    max_output: int = 65536
    ok_codes: tuple[int, ...] = (0,)
    kill_grace: float = 5.0
    timeout: float | None = None


def _read(
    inputs: Mapping[str, Any], *, rendered: bool
) -> tuple[_Command, list[Problem]]:
    reader = InputReader(inputs, rendered=rendered)
    command = _Command(
        command=reader.string("command", required=True) or "",
        env=reader.string_map("env"),
        cwd=reader.string("cwd"),
        max_output=reader.integer("max_output", default=65536, minimum=0),
        ok_codes=reader.integers("ok_codes") or (0,),
        kill_grace=reader.seconds("kill_grace", default=5.0),
        timeout=reader.optional_seconds("timeout"),
    )
    reader.reject_unknown()
    return command, reader.problems


class _Capture:
    """Keeps the head of one output stream; streams all of it to the run log by line."""

    def __init__(self, stream: str, *, limit: int, log: LogSink) -> None:
        self.stream = stream
        self._limit = limit
        self._log = log
        self._kept = bytearray()
        self._partial = b""
        #: bytes beyond the limit, streamed to the log but not kept
        self.dropped = 0
        #: the last line that was not blank
        self.last_line = ""

    @property
    def text(self) -> str:
        """Return the kept head of the stream."""
        return self._kept.decode(errors="replace")

    def feed(self, data: bytes) -> None:
        """Keep what fits, stream every complete line."""
        room = max(self._limit - len(self._kept), 0)
        self._kept += data[:room]
        self.dropped += max(len(data) - room, 0)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self._emit(line)
        if len(self._partial) > _LINE_LIMIT:
            self._emit(self._partial)
            self._partial = b""

    def close(self) -> None:
        """Stream the last line, if it had no newline."""
        if self._partial:
            self._emit(self._partial)
            self._partial = b""

    def _emit(self, raw: bytes) -> None:
        line = raw.decode(errors="replace").rstrip("\r")
        if line.strip():
            self.last_line = line
        self._log(self.stream, line)


class _ShellProtocol(asyncio.SubprocessProtocol):
    """Feeds the command's pipes to their captures and tells when it is done."""

    def __init__(self, captures: Mapping[int, _Capture]) -> None:
        loop = asyncio.get_running_loop()
        self._captures = captures
        self._open = set(captures)
        self.exited: asyncio.Future[None] = loop.create_future()
        self.drained: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self._captures[fd].feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self._captures[fd].close()
        self._open.discard(fd)
        if not self._open and not self.drained.done():
            self.drained.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


async def _spawn(
    command: _Command, captures: Mapping[int, _Capture]
) -> tuple[asyncio.SubprocessTransport, _ShellProtocol]:
    loop = asyncio.get_running_loop()
    return await loop.subprocess_exec(
        lambda: _ShellProtocol(captures),
        SHELL,
        "-c",
        command.command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **command.env},
        cwd=command.cwd,
        start_new_session=True,
    )


async def _wait_or_stop(
    transport: asyncio.SubprocessTransport, protocol: _ShellProtocol, *, grace: float
) -> None:
    """Wait for the command and its output; on cancellation kill its whole tree."""
    try:
        await asyncio.wait([protocol.exited])
        await asyncio.wait([protocol.drained], timeout=_DRAIN_SECONDS)
    except asyncio.CancelledError:
        await terminate_tree(transport.get_pid(), grace=grace)
        await asyncio.wait([protocol.exited], timeout=_REAP_SECONDS)
        raise


def _describe_exit(code: int | None, last_line: str) -> str:
    if code is None:
        message = "command ended without an exit status"
    elif code < 0:
        message = f"command was killed by signal {signal.Signals(-code).name}"
    else:
        message = f"command exited with code {code}"
    return f"{message}: {last_line}" if last_line else message


def _result(
    command: _Command,
    code: int | None,
    captures: tuple[_Capture, _Capture],
    *,
    log: LogSink,
    timed_out: bool,
) -> ActionResult:
    stdout, stderr = captures
    for capture in captures:
        if capture.dropped:
            log(
                "info",
                f"{capture.stream} truncated: kept the first {command.max_output}"
                f" bytes, dropped {capture.dropped}",
            )
    output = {
        "exit_code": code,
        "stdout": stdout.text,
        "stderr": stderr.text,
        "truncated": bool(stdout.dropped or stderr.dropped),
    }
    if timed_out:
        error = f"command timed out after {command.timeout:g}s"
        return ActionResult(ok=False, error=error, output=output, timed_out=True)
    if code in command.ok_codes:
        return ActionResult.succeeded(output)
    return ActionResult.failed(_describe_exit(code, stderr.last_line), output=output)


class ShellAction:
    """
    Runs a shell command in its own process group.

    Inputs:
        command: the command, run with ``/bin/sh -c`` (required).
        env: mapping of variables added to the worker's environment.
        cwd: the working directory.
        timeout: seconds (or ``30s``, ``5m``) before the command is stopped.
        max_output: bytes kept of stdout and of stderr each (default 65536);
            all of it is streamed to the run log.
        ok_codes: exit codes meaning success (default ``[0]``).
        kill_grace: seconds between SIGTERM and SIGKILL when the command is
            stopped (default 5).

    Output: ``{"exit_code", "stdout", "stderr", "truncated"}``. A failure names
    the exit code and the last line written to stderr. When the step is
    cancelled or times out, the command's whole process tree is stopped.
    """

    kind: ClassVar[str] = "shell"

    def check(self, inputs: Mapping[str, Any]) -> list[Problem]:
        """Check the command and its options."""
        return _read(inputs, rendered=False)[1]

    async def run(self, inputs: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        """Run the command to its end, or until cancelled or timed out."""
        command, problems = _read(inputs, rendered=True)
        if problems:
            return invalid_inputs(problems)
        stdout = _Capture("stdout", limit=command.max_output, log=ctx.log)
        stderr = _Capture("stderr", limit=command.max_output, log=ctx.log)
        try:
            transport, protocol = await _spawn(command, {1: stdout, 2: stderr})
        except OSError as exc:
            return ActionResult.failed(
                f"cannot start the command: {exc}", retryable=False
            )
        timed_out = False
        try:
            async with asyncio.timeout(command.timeout):
                await _wait_or_stop(transport, protocol, grace=command.kill_grace)
        except TimeoutError:
            timed_out = True
        finally:
            transport.close()
        if not timed_out and not protocol.drained.done():
            ctx.log("info", "output left unread: background processes hold it open")
        code = transport.get_returncode()
        return _result(
            command, code, (stdout, stderr), log=ctx.log, timed_out=timed_out
        )
