"""MADACE `GET/POST /api/sync` (seed 001 "Sync Service API"): the WebSocket sync service.

Starting and stopping it opens and closes a port of the server, so it is an admin's action;
anyone signed in sees its status with their own tenant's clients.
"""

from __future__ import annotations

from fastapi import APIRouter

from menagerie.core.clock import epoch_ms
from menagerie.core.sync.service import SyncStatus
from menagerie.dialects.madace.deps import AdminDep, PlatformDep, PrincipalDep
from menagerie.dialects.madace.schemas.sync import (
    SyncAction,
    SyncActionDone,
    SyncClientOut,
    SyncStatusOut,
)
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/sync", tags=["sync"])


def status_out(status: SyncStatus) -> SyncStatusOut:
    return SyncStatusOut(
        running=status.running,
        clients=[
            SyncClientOut(
                id=client.id,
                connectedAt=epoch_ms(client.connected_at),
                lastPing=epoch_ms(client.last_ping or client.connected_at),
                metadata=client.metadata,
            )
            for client in status.clients
        ],
        clientCount=len(status.clients),
        uptime=status.uptime_ms,
    )


@router.get("", response_model=SyncStatusOut)
async def sync_status(platform: PlatformDep, principal: PrincipalDep) -> SyncStatusOut:
    return status_out(platform.sync.status(principal))


@router.post(
    "", response_model=SyncActionDone, response_model_exclude_none=True, responses=errors(503)
)
async def sync_action(
    body: SyncAction, platform: PlatformDep, principal: AdminDep
) -> SyncActionDone:
    if body.action == "stop":
        await platform.sync.stop(principal)
        return SyncActionDone(message="Sync service stopped successfully", running=False)
    status, started = await platform.sync.start(
        principal, port=body.wsPort, state_paths=body.statePaths, config_path=body.configPath
    )
    return SyncActionDone(
        message="Sync service started successfully"
        if started
        else "Sync service is already running",
        running=True,
        wsPort=status.port,
        clientCount=len(status.clients),
    )
