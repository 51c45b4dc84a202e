"""The MCP marketplace in a health report, scoped to who asks.

An anonymous caller learns that the marketplace answers, and no count: how many servers a
tenant runs is that tenant's business. A signed-in caller sees its own tenant's servers;
an admin sees the server-wide totals (operators watch the whole installation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from menagerie.core.errors import MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.core.tools.service import ToolService

Scope = Literal["anonymous", "tenant", "server"]
Status = Literal["healthy", "degraded", "unhealthy"]


@dataclass(frozen=True, slots=True)
class MarketplaceHealth:
    status: Status
    scope: Scope
    servers_online: int | None  # None: not told to this caller
    servers_total: int | None
    last_sync: datetime | None
    error: str | None = None


async def marketplace_health(tools: ToolService, principal: Principal | None) -> MarketplaceHealth:
    if principal is None:
        return MarketplaceHealth("healthy", "anonymous", None, None, None)
    scope: Scope = "server" if principal.is_admin else "tenant"
    try:
        if principal.is_admin:
            overview = await tools.overview()
            return MarketplaceHealth(
                "healthy" if overview["status"] == "healthy" else "degraded",
                scope,
                int(overview["servers_online"]),
                int(overview["servers_total"]),
                overview["last_sync"],
            )
        installed = len(await tools.installed_names(principal))
    except Exception as error:  # the database is down: the report's database entry says why
        reason = error.message if isinstance(error, MenagerieError) else "database unreachable"
        return MarketplaceHealth("unhealthy", scope, None, None, None, reason)
    sessions = tools.sessions(principal.tenant_id)
    online = sum(1 for s in sessions if s.state == "running")
    checks = [s.last_check for s in sessions if s.last_check is not None]
    return MarketplaceHealth(
        "healthy" if online == len(sessions) else "degraded",
        scope,
        online,
        installed,
        max(checks) if checks else None,
    )
