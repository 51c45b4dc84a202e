"""Every operator action in every dialect, found by its `require_admin` dependency, refuses a
plain user of the same tenant (403, in that dialect's code for Forbidden) and, where its path
names an object, answers another tenant's admin 404 for the first tenant's object."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from menagerie.app import create_app
from menagerie.core.errors import Forbidden
from menagerie.core.identity.models import Principal
from menagerie.core.identity.numbers import user_number
from menagerie.core.ops.alerts import Thresholds
from menagerie.dialects.registry import DIALECTS
from menagerie.http.deps import require_admin
from menagerie.platform import Platform
from menagerie.settings import EndpointSettings, Settings
from tests.utils.envelopes import code_of
from tests.utils.http import bearer
from tests.utils.model_server import command, free_port
from tests.utils.principals import admin
from tests.utils.server import client_for

PASSWORD = "SecurePassword123"
PARAMETER = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


@dataclass(frozen=True)
class AdminRoute:
    dialect: str
    method: str
    path: str  # as mounted on the combined server, parameters unfilled

    @property
    def parameters(self) -> list[str]:
        return PARAMETER.findall(self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _depends_on_admin(dependant: Dependant) -> bool:
    stack = [dependant]
    while stack:
        current = stack.pop()
        if current.call is require_admin:
            return True
        stack.extend(current.dependencies)
    return False


def admin_routes() -> list[AdminRoute]:
    found = []
    for name, spec in DIALECTS.items():
        for router in spec.routers:
            for route in router.routes:
                if isinstance(route, APIRoute) and _depends_on_admin(route.dependant):
                    found += [
                        AdminRoute(name, method, f"{spec.mount_path}{route.path}")
                        for method in sorted(route.methods)
                    ]
    return found


ROUTES = admin_routes()


@dataclass
class World:
    """Tenant "default" with its objects and a plain user; tenant "acme" with its admin."""

    platform: Platform
    client: httpx.AsyncClient
    user: dict[str, str]  # a plain user of the default tenant
    other_admin: dict[str, str]  # an admin of another tenant
    user_id: str  # the plain user's id: an object of the default tenant


# an object of the default tenant for each path parameter an admin route names; a new admin
# route with a parameter not listed here fails, so that no route goes unchecked
Filler = Callable[[World], Awaitable[str]]


async def _endpoint(world: World) -> str:
    names = world.platform.endpoints.names()
    assert names, "no managed endpoint configured"
    return names[0]


async def _user(world: World) -> str:
    # the one admin route naming a user is Crazy Gary's, whose users are numbered
    return str(user_number(world.user_id))


async def _api_token(world: World) -> str:
    issued = await world.platform.identity.create_api_token(admin(world.platform), "ci")
    return issued.id


async def _alert(world: World) -> str:
    # an alert of the operator's, raised by a threshold every machine passes
    alerts = world.platform.alerts
    assert alerts is not None
    alerts.thresholds = Thresholds(cpu_percent=-1.0)
    await alerts.check()
    return alerts.active(admin(world.platform))[0].id


FILLERS: dict[str, Filler] = {
    "alert_id": _alert,
    "model_type": _endpoint,
    "user_id": _user,
    "token_id": _api_token,
}


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    endpoints = [
        EndpointSettings(name=name, model=f"gpt-oss-{name}", command=command(), port=free_port())
        for name in ("120b", "20b")
    ]
    platform = Platform.build(
        settings.model_copy(update={"rate_limits_enabled": False, "llm_endpoints": endpoints})
    )
    async with client_for(create_app(platform=platform)) as client:
        signed_in = await platform.accounts.register("plain@example.com", PASSWORD, "plain")
        issued = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
        yield World(
            platform,
            client,
            user=bearer(signed_in.tokens.access_token),
            other_admin=bearer(issued.token),
            user_id=signed_in.account.id,
        )


def test_the_walk_finds_the_operator_actions() -> None:
    """Not vacuous: the routes the fault was about are among those found."""
    gary = {str(route) for route in ROUTES if route.dialect == "gary"}
    for expected in (
        "POST /gary/api/endpoints/wake",
        "POST /gary/api/endpoints/wake/{model_type}",
        "POST /gary/api/endpoints/sleep",
        "POST /gary/api/endpoints/sleep/{model_type}",
        "GET /gary/api/users",
        "POST /gary/api/users",
        "DELETE /gary/api/users/{user_id}",
    ):
        assert expected in gary, f"{expected} is not guarded by AdminDep"


async def _path(world: World, route: AdminRoute) -> str:
    path = route.path
    for parameter in route.parameters:
        filler = FILLERS.get(parameter)
        assert filler is not None, f"{route}: no object to name for {{{parameter}}}; add one"
        path = re.sub(r"\{" + re.escape(parameter) + r"(?::[^}]*)?\}", await filler(world), path)
    return path


def _forbidden_code(dialect: str) -> str:
    return DIALECTS[dialect].envelope.code_for(Forbidden("x", reason="ADMIN_REQUIRED"))


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_a_plain_user_is_refused(world: World, route: AdminRoute) -> None:
    path = await _path(world, route)
    response = await world.client.request(route.method, path, headers=world.user)
    assert response.status_code == 403, f"{route}: {response.status_code} {response.text}"
    assert code_of(route.dialect, response.json()) == _forbidden_code(route.dialect)
    await _untouched(world)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.parameters], ids=str)
async def test_another_tenants_admin_finds_nothing(world: World, route: AdminRoute) -> None:
    path = await _path(world, route)
    response = await world.client.request(route.method, path, headers=world.other_admin)
    assert response.status_code == 404, f"{route}: {response.status_code} {response.text}"
    await _untouched(world)


async def _untouched(world: World) -> None:
    """The refused calls changed nothing: the user is there, no endpoint was woken."""
    principal = Principal(world.platform.settings.default_tenant, world.user_id, frozenset())
    assert (await world.platform.accounts.me(principal)).is_active
    assert {s.status for s in world.platform.endpoints.statuses()} == {"sleeping"}
