"""MADACE's sync clients on `/madace/ws` of the main port: the same clients as the sync
service's own port (realtime/madace_sync.py), authenticated the same way, hearing the same
`state_update` and `config_update` while the service runs (`POST /api/sync` `start`)."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from menagerie.core.errors import MenagerieError
from menagerie.core.sync.service import SyncConnection
from menagerie.platform import Platform
from menagerie.realtime.madace_sync import MAX_MESSAGE_BYTES, authenticate, credential, metadata

router = APIRouter(tags=["sync"])
# RFC 6455: 1008 policy (no credential), 1013 try again later (the service is not running)
CLOSE_POLICY, CLOSE_TRY_LATER, CLOSE_TOO_BIG = 1008, 1013, 1009


class _Socket(SyncConnection):
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def send(self, text: str) -> None:
        await self.websocket.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        await self.websocket.close(code, reason)


@router.websocket("/ws")
async def sync_socket(websocket: WebSocket) -> None:
    platform: Platform = websocket.app.state.platform
    query = websocket.url.query
    principal = await authenticate(
        platform.identity, credential(websocket.headers.get("authorization"), query)
    )
    if principal is None:
        await websocket.close(CLOSE_POLICY, "authentication required")
        return
    if not platform.sync.running:
        await websocket.close(CLOSE_TRY_LATER, "sync service is not running")
        return
    await websocket.accept()
    try:
        client = platform.sync.attach(
            principal, _Socket(websocket), metadata(query, websocket.headers.get("user-agent"))
        )
    except MenagerieError:  # stopped between the check and the handshake
        await websocket.close(CLOSE_TRY_LATER, "sync service is not running")
        return
    try:
        while True:
            text = await websocket.receive_text()
            if len(text.encode()) > MAX_MESSAGE_BYTES:
                await websocket.close(CLOSE_TOO_BIG, "message too big")
                return
            await platform.sync.received(client, text)
    except WebSocketDisconnect:
        pass
    finally:
        platform.sync.detach(client)
        with contextlib.suppress(Exception):
            await websocket.close()
