"""`local` deploys: a project's build output served over HTTP on a free loopback port.

One asyncio server per deployment, supervised by the process that made it and closed on
redeploy or platform stop. It answers GET and HEAD only; files are read through `Reader`
(the sandbox service's path-checked reads inside the workspace), so a link or `..` never
leads out of the build output.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
from collections.abc import Awaitable, Callable
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

# a path inside the output directory -> its bytes, or None when there is no such file
Reader = Callable[[str], Awaitable[bytes | None]]
HOST = "127.0.0.1"
HEAD_LIMIT = 16 * 1024
READ_TIMEOUT_S = 10.0
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


class StaticSite:
    def __init__(self, reader: Reader) -> None:
        self._reader = reader
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
            status, body, kind, method = await self._answer(head)
            headers = (
                f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(headers.encode() + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
        ) as error:
            # a client that sends no complete request, or hangs up, gets nothing
            log.debug("local deployment request dropped: %s", type(error).__name__)
        except Exception:
            log.exception("serving a local deployment failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, head: bytes) -> tuple[int, bytes, str, str]:
        text = "text/plain; charset=utf-8"
        try:
            method, target, _ = head[:HEAD_LIMIT].split(b"\r\n", 1)[0].decode().split(" ", 2)
        except ValueError:
            return 400, b"bad request\n", text, "GET"
        if method not in ("GET", "HEAD"):
            return 405, b"only GET and HEAD\n", text, method
        path = unquote(urlsplit(target).path).lstrip("/")
        if path == "" or path.endswith("/"):
            path += "index.html"
        if any(part in ("", ".", "..") for part in path.split("/")):
            return 404, b"not found\n", text, method
        data = await self._reader(path)
        if data is None:
            return 404, b"not found\n", text, method
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
            kind += "; charset=utf-8"
        return 200, data, kind, method
