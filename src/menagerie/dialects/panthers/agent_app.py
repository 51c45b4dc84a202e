"""A deployed Secret Panther's own process (provider `local`): the seed's agent API
(`/health`, `/info`, `/auth/verify`, `/chat`, `/chat/history`, `/chat/clear`, `/ws`) at the
root of its own port, for one NFT.

It is the same Panthers dialect as the server's, on the same database and agent loop: each
request's path is read as the agent's route under `/agents/{nft_token_id}`, so the two
answer alike. The server starts it (`core/deployments`) with its settings in the
environment and a listening socket it holds; the process ends when that server is gone.

    python -m menagerie.dialects.panthers.agent_app --fd FD --nft-token-id ID
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from menagerie.core.deployments.launch import PARENT_VARIABLE, read_settings_document
from menagerie.core.identity.wallet import siwe
from menagerie.dialects.panthers import SPEC
from menagerie.http.dialect import build_dialect_app
from menagerie.http.middleware import RequestContextMiddleware
from menagerie.logs import configure_logging
from menagerie.platform import Platform

log = logging.getLogger(__name__)
ORPHAN_CHECK_S = 1.0


class AgentRoot:
    """Serves one NFT's agent routes at the root: `/chat` is `/agents/{id}/chat`."""

    def __init__(self, app: ASGIApp, nft_token_id: str) -> None:
        self.app = app
        self.prefix = f"/agents/{nft_token_id}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path = self.prefix + scope["path"]
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def create_agent_app(platform: Platform, nft_token_id: str) -> ASGIApp:
    nft = siwe.token_id(nft_token_id)
    dialect = build_dialect_app(SPEC, platform)
    return RequestContextMiddleware(
        AgentRoot(dialect, nft),
        stats=platform.request_stats,
        prefixes={"": SPEC.name},
        logbook=platform.logbook,
    )


async def _start(platform: Platform) -> None:
    # what the agent API uses: the database, the bus, and the agent loop's models. Runs,
    # sandboxes and MCP servers stay with the server that deployed it
    await platform.database.wait_until_reachable(max(platform.settings.database_connect_timeout, 1))
    await platform.events.start()
    await platform.worker.start()
    await platform.llm.start()


async def _stop(platform: Platform) -> None:
    await platform.llm.stop()
    await platform.worker.stop()
    await platform.events.stop()
    await platform.database.dispose()


async def _orphaned(server: uvicorn.Server, parent: int | None) -> None:
    """End with the server that started this process, even one killed outright."""
    if parent is None:
        return
    # nothing signals a parent's end to its child: its parent pid changing is the sign
    while os.getppid() == parent:  # noqa: ASYNC110
        await asyncio.sleep(ORPHAN_CHECK_S)
    log.warning("the server that deployed this agent (pid %s) is gone: stopping", parent)
    server.should_exit = True


async def serve(nft_token_id: str, fd: int) -> None:
    settings = read_settings_document()
    parent = os.environ.pop(PARENT_VARIABLE, None)
    platform = Platform.build(settings)
    platform.logbook = None  # the server keeps the operations log
    configure_logging(settings.log_level, platform.redactor)
    sock = socket.socket(fileno=fd)
    server = uvicorn.Server(
        uvicorn.Config(
            create_agent_app(platform, nft_token_id),
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
        )
    )
    await _start(platform)
    watcher = asyncio.create_task(_orphaned(server, int(parent) if parent else None))
    try:
        log.info("agent of NFT #%s serving on %s", nft_token_id, sock.getsockname())
        await server.serve(sockets=[sock])
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await _stop(platform)


def main() -> None:
    parser = argparse.ArgumentParser(description="A deployed Secret Panther's agent API.")
    parser.add_argument("--fd", type=int, required=True, help="listening socket to serve on")
    parser.add_argument("--nft-token-id", required=True)
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.nft_token_id, arguments.fd))


if __name__ == "__main__":
    main()
