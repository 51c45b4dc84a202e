"""An HTTP MCP server package started by us: its process, its stderr, its port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx2

from menagerie.core.processes import stop_group
from menagerie.core.tools.models import LaunchPlan
from menagerie.core.tools.stderr import StderrTail

STOP_GRACE_S = 5.0


class ServerExited(Exception):
    """The server process ended before it answered on its port."""


@contextlib.asynccontextmanager
async def local_http_server(
    plan: LaunchPlan, stderr: StderrTail
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start the server and wait until its port answers; the caller's deadline bounds that.
    On exit the server's whole process group is stopped."""
    assert plan.command is not None
    assert plan.url is not None
    process = await asyncio.create_subprocess_exec(
        plan.command,
        *plan.args,
        env=plan.env,
        cwd=plan.cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stderr is not None
    reader = asyncio.create_task(stderr.feed(process.stderr))
    try:
        await wait_for_port(plan.url, process)
        yield process
    finally:
        await stop_group(process, STOP_GRACE_S)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def wait_for_port(url: str, process: asyncio.subprocess.Process) -> None:
    parsed = httpx2.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    while True:
        if process.returncode is not None:
            raise ServerExited(f"the MCP server process exited with code {process.returncode}")
        try:
            _, writer = await asyncio.open_connection(parsed.host, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
