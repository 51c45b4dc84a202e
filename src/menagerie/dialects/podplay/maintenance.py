"""PodPlay's maintenance switch, `POST /api/admin/maintenance` (Menagerie's addition: seed 000
documents the `maintenance_mode` event and the 503 `SERVICE_UNAVAILABLE` answer, not how an
operator turns it on). Maintenance is server-wide: only the default tenant's admins switch it.
"""

from __future__ import annotations

from fastapi import APIRouter

from menagerie.core.clock import iso
from menagerie.core.ops.maintenance import MaintenanceState
from menagerie.dialects.podplay.deps import AdminDep, PlatformDep
from menagerie.dialects.podplay.schemas.maintenance import MaintenanceIn, MaintenanceOut
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/admin", tags=["admin"])

# the services PodPlay's routes belong to, as seed 000's examples name them


@router.get("/maintenance", response_model=MaintenanceOut)
async def maintenance_state(platform: PlatformDep, admin: AdminDep) -> MaintenanceOut:
    assert platform.maintenance is not None
    return _out(await platform.maintenance.current())


@router.post("/maintenance", response_model=MaintenanceOut, responses=errors(403))
async def switch_maintenance(
    body: MaintenanceIn, platform: PlatformDep, admin: AdminDep
) -> MaintenanceOut:
    assert platform.maintenance is not None
    state = await platform.maintenance.switch(
        admin,
        enabled=body.enabled,
        message=body.message,
        affected_services=body.affected_services,
        estimated_return=body.estimated_return,
    )
    return _out(state)


def _out(state: MaintenanceState) -> MaintenanceOut:
    return MaintenanceOut(
        maintenance_active=state.active,
        message=state.message,
        affected_services=list(state.affected_services),
        start_time=iso(state.started_at),
        estimated_return=iso(state.estimated_return),
    )
