"""This dialect's request dependencies: the shared platform, principal and admin guard, and
the maintenance check of the services the operator took down."""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends

from menagerie.http.deps import AdminDep, OptionalPrincipalDep, PlatformDep, PrincipalDep

# the services maintenance mode can take down, in the seed's words
CHAT, MCP, WORKSPACES = "chat", "mcp_marketplace", "workspaces"

__all__ = [
    "CHAT",
    "MCP",
    "WORKSPACES",
    "AdminDep",
    "OptionalPrincipalDep",
    "PlatformDep",
    "PrincipalDep",
    "maintenance_check",
    "under_maintenance",
]


def maintenance_check(service: str) -> Callable[..., Awaitable[None]]:
    """A dependency answering 503 `SERVICE_UNAVAILABLE` while maintenance affects `service`
    (core decides, from its cached state)."""

    async def check(platform: PlatformDep) -> None:
        if platform.maintenance is not None:
            await platform.maintenance.check(service)

    return check


def under_maintenance(service: str) -> dict[str, Any]:
    """The router options that make every route of a router check maintenance first:
    `APIRouter(prefix=…, **under_maintenance(CHAT))`."""
    return {
        "dependencies": [Depends(maintenance_check(service))],
        "responses": {503: {"description": f"{service} is down for maintenance"}},
    }
