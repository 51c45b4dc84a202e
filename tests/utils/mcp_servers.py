"""Helpers for tests against real MCP servers: a shared package cache, waiting, finding pids."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.utils.databases import IN_CI

# installed once per machine and reused by every test (and by later runs): the installer locks
# each package home, so parallel test workers never install the same package twice at once
PACKAGES_DIR = Path(__file__).resolve().parents[2] / ".pytest-mcp-packages"


async def eventually(check: Callable[[], bool], *, within: float = 60.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


def descendants(root: int | None = None) -> dict[int, str]:
    """Every live process below `root` (default: this one), with its command line."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields[0] == "Z":
            continue
        parents[int(entry)] = int(fields[1])
        commands[int(entry)] = command
    wanted = {root or os.getpid()}
    found: dict[int, str] = {}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in wanted and pid not in wanted:
                wanted.add(pid)
                found[pid] = commands[pid]
                grew = True
    return found


def pids_running(word: str) -> list[int]:
    return [pid for pid, command in descendants().items() if word in command]


def require_npm() -> None:
    """npm servers need Node.js: skipped without it, except under CI where it is mandatory."""
    if shutil.which("npm") and shutil.which("node"):
        return
    if IN_CI:
        pytest.fail("Node.js and npm are required under CI (the MCP tests install npm servers)")
    pytest.skip("Node.js and npm are not installed")


async def _quiet(progress: int, step: str) -> None:
    return None


@contextlib.asynccontextmanager
async def everything_server(mode: str) -> AsyncIterator[str]:
    """`server-everything` started by the test in `streamableHttp` or `sse` mode: a remote
    server as far as Menagerie knows. Yields its `host:port`."""
    from menagerie.core.tools.catalog import Catalog
    from menagerie.core.tools.installer import PackageInstaller
    from menagerie.core.tools.launch import free_port

    require_npm()
    package = Catalog.load().get("server-everything").packages[0]
    home = await PackageInstaller(PACKAGES_DIR).install(package, _quiet, user="tests")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        str(home.executable("mcp-server-everything")),
        mode,
        env={**os.environ, "PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(400):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            await asyncio.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        await process.wait()
