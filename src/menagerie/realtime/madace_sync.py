"""The sync service's WebSocket transport: a server of its own on the port `POST /api/sync`
names (websockets), and the same clients on `/madace/ws` of the main port.

Both authenticate as the API does: a bearer credential in `Authorization` (or `?token=`,
which browsers can send), none in dev mode; a refused one never reaches the upgrade (401).
A client may name itself with `?source=`; its `User-Agent` is kept with it.
"""

from __future__ import annotations

import contextlib
import logging
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from menagerie.core.errors import MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.core.identity.service import IdentityService
from menagerie.core.sync.service import (
    Listener,
    ListenFactory,
    SyncClient,
    SyncConnection,
    SyncService,
)

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 64 * 1024
METADATA_CHARS = 300


def credential(authorization: str | None, query: str) -> str | None:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else authorization.strip()
    tokens = parse_qs(query).get("token")
    return tokens[0] if tokens else None


async def authenticate(identity: IdentityService, token: str | None) -> Principal | None:
    """The caller, as the HTTP API would see it; None when refused."""
    if token:
        try:
            return await identity.authenticate_bearer(token)
        except MenagerieError:
            return None
    return identity.dev_principal() if identity.dev_mode else None


def metadata(query: str, user_agent: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    source = parse_qs(query).get("source")
    if source:
        found["source"] = source[0][:METADATA_CHARS]
    if user_agent:
        found["userAgent"] = user_agent[:METADATA_CHARS]
    return found


class _Socket(SyncConnection):
    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection

    async def send(self, text: str) -> None:
        await self.connection.send(text)

    async def close(self, code: int, reason: str) -> None:
        await self.connection.close(code, reason)


class _Listener(Listener):
    def __init__(self, server: Server) -> None:
        self.server = server

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


def listen_with(identity: IdentityService) -> ListenFactory:
    """The `listen` the sync service starts its WebSocket server with."""

    async def listen(service: SyncService, host: str, port: int) -> Listener:
        async def check(connection: ServerConnection, request: Request) -> Response | None:
            principal = await authenticate(identity, _token(request.headers, request.path))
            if principal is None:
                return connection.respond(HTTPStatus.UNAUTHORIZED, "authentication required\n")
            connection.principal = principal  # type: ignore[attr-defined]
            return None

        async def handle(connection: ServerConnection) -> None:
            principal: Principal = connection.principal  # type: ignore[attr-defined]
            request = connection.request
            assert request is not None
            try:
                client = service.attach(
                    principal,
                    _Socket(connection),
                    metadata(urlsplit(request.path).query, request.headers.get("User-Agent")),
                )
            except MenagerieError:
                await connection.close(1013, "sync service is not running")
                return
            await serve_client(service, client, connection)

        server = await serve(handle, host, port, process_request=check, max_size=MAX_MESSAGE_BYTES)
        return _Listener(server)

    return listen


async def serve_client(
    service: SyncService, client: SyncClient, connection: ServerConnection
) -> None:
    try:
        async for message in connection:
            await service.received(client, message if isinstance(message, str) else "")
    except ConnectionClosed:
        pass
    finally:
        service.detach(client)
        with contextlib.suppress(Exception):
            await connection.close()


def _token(headers: Headers, path: str) -> str | None:
    return credential(headers.get("Authorization"), urlsplit(path).query)
