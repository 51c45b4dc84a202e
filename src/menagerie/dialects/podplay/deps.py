"""This dialect's request dependencies: the shared platform, principal and admin guard, and
the maintenance check of the services the operator took down."""

import inspect
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute

from menagerie.http.deps import AdminDep, OptionalPrincipalDep, PlatformDep, PrincipalDep

__all__ = [
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


def under_maintenance(router: APIRouter, service: str) -> APIRouter:
    """`router`'s routes again, each checking first that maintenance leaves `service` up.

    Copied route by route (FastAPI includes a router lazily, and the contract and the OpenAPI
    error documentation walk each dialect router's own routes)."""
    check = Depends(maintenance_check(service))
    guarded = APIRouter()
    for route in router.routes:
        if not isinstance(route, APIRoute):
            guarded.routes.append(route)
            continue
        options = {name: getattr(route, name) for name in _ROUTE_OPTIONS if hasattr(route, name)}
        options["dependencies"] = [check, *route.dependencies]
        options["responses"] = {
            **route.responses,
            503: {"description": f"{service} is down for maintenance"},
        }
        guarded.add_api_route(
            route.path, route.endpoint, route_class_override=type(route), **options
        )
    return guarded


_ROUTE_OPTIONS = tuple(
    name
    for name in inspect.signature(APIRoute.__init__).parameters
    if name not in {"self", "path", "endpoint", "dependency_overrides_provider"}
)
