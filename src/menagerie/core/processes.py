"""Child processes we start: stopping one (in a session of its own) with its children, and a
free loopback port for one to listen on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket


def signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    # the group id is the leader's pid (start_new_session); gone already is fine
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


async def stop_group(process: asyncio.subprocess.Process, grace_s: float) -> bool:
    """SIGTERM the process group, wait up to `grace_s`, then SIGKILL what is left.

    Returns whether the leader ended within the grace period. The group is killed even after
    a clean exit: children may have outlived their leader.
    """
    graceful = True
    if process.returncode is None:
        signal_group(process, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), grace_s)
        except TimeoutError:
            graceful = False
    signal_group(process, signal.SIGKILL)
    await process.wait()
    return graceful


def free_port() -> int:
    """A loopback port free right now, for a child server to listen on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
