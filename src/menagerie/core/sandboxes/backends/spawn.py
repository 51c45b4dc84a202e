"""Starting a child cheaply from a big, threaded server, and watching it on the event loop.

`subprocess.Popen` starts children with vfork (no `preexec_fn`, nothing to copy), where an
event loop's own `subprocess_exec` may fork: uvloop's does, and copying a few hundred
megabytes of page tables costs tens of milliseconds per command. The loop then only watches:
the output pipes as read pipes, the exit through a pidfd, so no child watcher is involved.
Output is taken as it comes (past the cap, dropped) so the writer never blocks on a full
pipe, and the exit is known apart from the pipes: a child that left the process group and
holds them cannot hold us too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Sequence
from typing import IO


class Capture:
    """Up to `cap` bytes of one stream, and whether more came."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.kept = bytearray()
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        room = self.cap - len(self.kept)
        if room > 0:
            self.kept += chunk[:room]
        self.truncated = self.truncated or len(chunk) > room

    def text(self) -> str:
        return self.kept.decode("utf-8", errors="replace")


class _Reader(asyncio.Protocol):
    def __init__(self, capture: Capture, done: asyncio.Future[None]) -> None:
        self._capture = capture
        self._done = done

    def data_received(self, data: bytes) -> None:
        self._capture.add(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(None)


class Spawned:
    """One running command: its pid, its captured output, its exit and its pipes' end."""

    def __init__(self, process: subprocess.Popen[bytes], cap: int) -> None:
        loop = asyncio.get_running_loop()
        self.process = process
        self.pid = process.pid
        self.stdout = Capture(cap)
        self.stderr = Capture(cap)
        self.exited: asyncio.Future[None] = loop.create_future()
        self._pipes: list[asyncio.Future[None]] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._pidfd = os.pidfd_open(process.pid)
        loop.add_reader(self._pidfd, self._reap)

    async def watch(self, stdin: bytes | None) -> None:
        loop = asyncio.get_running_loop()
        for pipe, capture in (
            (self.process.stdout, self.stdout),
            (self.process.stderr, self.stderr),
        ):
            assert pipe is not None
            done: asyncio.Future[None] = loop.create_future()
            transport, _ = await loop.connect_read_pipe(
                lambda c=capture, d=done: _Reader(c, d), pipe
            )
            self._pipes.append(done)
            self._transports.append(transport)
        if stdin is not None and self.process.stdin is not None:
            writer, _ = await loop.connect_write_pipe(asyncio.Protocol, self.process.stdin)
            writer.write(stdin)  # buffered by the loop; a closed pipe ends it quietly
            writer.close()

    @property
    def closed(self) -> asyncio.Future[list[None]]:
        """Every output pipe closed: every process holding them is gone."""
        return asyncio.gather(*self._pipes)

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def _reap(self) -> None:
        # the pidfd is readable once the child has exited: collect it now
        with contextlib.suppress(ChildProcessError):
            self.process.wait(timeout=0)
        self._forget_pidfd()
        if not self.exited.done():
            self.exited.set_result(None)

    def _forget_pidfd(self) -> None:
        if self._pidfd >= 0:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1

    def close(self) -> None:
        for transport in self._transports:
            transport.close()
        self._forget_pidfd()


async def spawn(
    command: Sequence[str], *, stdin: bytes | None, env: dict[str, str], cap: int
) -> Spawned:
    """Start `command` in a session of its own (its pid is its process group)."""
    stdin_pipe: int | IO[bytes] = subprocess.DEVNULL if stdin is None else subprocess.PIPE
    process = subprocess.Popen(  # noqa: S603, ASYNC220 - the backend's command line; vfork
        list(command),
        stdin=stdin_pipe,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd="/",
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    spawned = Spawned(process, cap)
    try:
        await spawned.watch(stdin)
    except BaseException:
        process.kill()
        spawned.close()
        raise
    return spawned
