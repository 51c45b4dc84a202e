"""What an MCP server writes to stderr: logged with secrets masked, its last lines kept.

A server that fails to start usually says why on stderr; the tail makes that reason part of
the error a user sees, and nothing reaches a log before the redactor has read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import AsyncIterator
from typing import IO

from menagerie.core.redact import Redactor

log = logging.getLogger("menagerie.mcp.stderr")
LINE_LIMIT = 2000


class StderrTail:
    def __init__(self, name: str, redactor: Redactor, keep: int = 5) -> None:
        self.name = name
        self._redactor = redactor
        self._lines: deque[str] = deque(maxlen=keep)

    def last(self) -> str:
        return " | ".join(self._lines)

    @contextlib.asynccontextmanager
    async def pipe(self) -> AsyncIterator[IO[str]]:
        """A file a child process can write its stderr to, read line by line while it lives."""
        read_fd, write_fd = os.pipe()
        writer = os.fdopen(write_fd, "w")
        reader = asyncio.create_task(self._read(read_fd), name=f"mcp-stderr-{self.name}")
        try:
            yield writer
        finally:
            writer.close()  # the child holds its own copy; the reader sees EOF when it exits
            try:
                await asyncio.wait_for(asyncio.shield(reader), 2)
            except TimeoutError:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    async def feed(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self._keep(line)

    async def _read(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        stream = asyncio.StreamReader(limit=2**20)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream), os.fdopen(fd, "rb")
        )
        try:
            await self.feed(stream)
        except ValueError:  # a line over the reader's limit: stop reading rather than fail
            pass
        finally:
            transport.close()

    def _keep(self, raw: bytes) -> None:
        text = self._redactor(raw.decode("utf-8", "replace").rstrip()[:LINE_LIMIT])
        if text:
            self._lines.append(text)
            log.debug("[%s] %s", self.name, text)
