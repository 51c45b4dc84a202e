"""A lock file shared by every process on this machine that works in one directory."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

LOCK_FILE = ".lock"


@contextlib.asynccontextmanager
async def locked(path: Path) -> AsyncIterator[None]:
    """Hold `path/.lock` exclusively, polling so that the event loop is never blocked."""
    handle = await asyncio.to_thread(_open_lock_file, path)
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(0.2)  # another process holds it right now
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def is_locked(path: Path) -> bool:
    """Whether some process holds `path/.lock` now."""
    lock = path / LOCK_FILE
    if not lock.exists():
        return False
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _open_lock_file(path: Path) -> IO[str]:
    path.mkdir(parents=True, exist_ok=True)
    return (path / LOCK_FILE).open("a")
