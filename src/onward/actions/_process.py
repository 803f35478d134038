"""
Stopping a process tree: SIGTERM to all of it, then SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterable
from typing import Final

import psutil

_POLL_SECONDS: Final = 0.05
#: how long to wait for SIGKILL to take effect before giving up on a process
_KILL_WAIT_SECONDS: Final = 2.0


def _is_alive(process: psutil.Process) -> bool:
    """Tell whether ``process`` still runs; a zombie is as good as gone."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _in_group(process: psutil.Process, pgid: int) -> bool:
    try:
        return os.getpgid(process.pid) == pgid
    except OSError:
        return False


def _members(leader: int) -> list[psutil.Process]:
    """
    Return the processes to stop: the leader's group and all its descendants.

    Descendants that left the group (``setsid``) are caught through the process
    tree; orphans still in the group through their group id.
    """
    found: dict[int, psutil.Process] = {}
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(leader)
        found = {child.pid: child for child in root.children(recursive=True)}
        found[leader] = root
    for process in psutil.process_iter():
        if process.pid not in found and _in_group(process, leader):
            found[process.pid] = process
    return list(found.values())


def _send(
    leader: int, processes: Iterable[psutil.Process], signum: signal.Signals
) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signum)
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signum)


async def _wait_gone(
    processes: list[psutil.Process], seconds: float
) -> list[psutil.Process]:
    """Wait until every process is gone or ``seconds`` passed; return the survivors."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    survivors = [process for process in processes if _is_alive(process)]
    while survivors and loop.time() < deadline:
        await asyncio.sleep(_POLL_SECONDS)
        survivors = [process for process in survivors if _is_alive(process)]
    return survivors


async def terminate_tree(leader: int, *, grace: float) -> list[int]:
    """
    Stop a process group leader, its group and all its descendants.

    Sends SIGTERM, waits up to ``grace`` seconds, then sends SIGKILL to what is
    left. Cancelling this coroutine skips the rest of the grace period: SIGKILL
    is sent at once and the cancellation propagates.

    Args:
        leader: pid of a process started with ``start_new_session=True``,
            hence the id of its process group.
        grace: seconds the processes have to exit after SIGTERM.

    Returns:
        The pids that needed SIGKILL.
    """
    members = _members(leader)
    _send(leader, members, signal.SIGTERM)
    try:
        survivors = await _wait_gone(members, grace)
    except asyncio.CancelledError:
        _send(leader, members, signal.SIGKILL)
        raise
    if survivors:
        _send(leader, survivors, signal.SIGKILL)
        await _wait_gone(survivors, _KILL_WAIT_SECONDS)
    return [process.pid for process in survivors]
