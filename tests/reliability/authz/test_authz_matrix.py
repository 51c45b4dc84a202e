"""The authorization matrix (issue 18; OWASP API1, API3, API5): every route of every dialect and
of the console, and every WebSocket and socket.io handler, called on a real server as an
anonymous caller, user A (who owns the objects named), user B of A's tenant, another tenant's
admin and, on admin rows, A's tenant's admin. Each answer must be the one the declared table
(`table.py`) documents for that caller, never a server error, and never hold A's objects for
anyone but A. A route served without a row, or a row for a route no longer served, fails.

The figure (routes x callers checked) is printed, and written as `authz.json` under
`MENAGERIE_RELIABILITY_DIR` when it is set."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from fastapi.routing import APIWebSocketRoute
from pydantic import SecretStr

from menagerie.app import create_app
from menagerie.dialects.gary.socket import GarySurface
from menagerie.dialects.podplay.socket import PodPlaySurface
from menagerie.dialects.registry import DIALECTS
from menagerie.platform import Platform
from menagerie.settings import EndpointSettings, Settings
from tests.reliability.authz.checks import Tally, run_row
from tests.reliability.authz.sockets import run_sockets
from tests.reliability.authz.table import PREFIXES, ROWS, SOCKETS, openapi_path
from tests.reliability.authz.table_panthers import MINE, THEIRS
from tests.reliability.authz.world import (
    VAULT_SECRET,
    World,
    nft_owners,
    write_catalogue,
)
from tests.utils.model_server import command, free_port
from tests.utils.server import serve


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    wallets = {MINE: Account.create(), THEIRS: Account.create()}
    write_catalogue(settings.data_dir)
    endpoints = [
        EndpointSettings(name=name, model=f"gpt-oss-{name}", command=command(), port=free_port())
        for name in ("120b", "20b")
    ]
    platform = Platform.build(
        settings.model_copy(
            update={
                "rate_limits_enabled": False,
                "offline_token_delay_ms": 0,
                # the endpoints are there to be refused: no turn wakes them
                "llm_primary_model": "menagerie-offline",
                "vault_jwt_secret": SecretStr(VAULT_SECRET),
                "nft_owners_file": nft_owners(tmp_path / "owners.json", wallets),
                "llm_endpoints": endpoints,
                # the process backend starts at once; isolation is not what is checked here
                "sandbox_backend": "process",
                "sandbox_allow_weak": True,
            }
        )
    )
    async with (
        serve(create_app(platform=platform)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        made = World(platform, client, url, wallets)
        await made.setup()
        await made.make_all()
        yield made


async def _served(world: World) -> set[tuple[str, str]]:
    """Every operation each OpenAPI document lists, as (METHOD, prefixed path)."""
    served = set()
    for prefix in PREFIXES.values():
        document = (await world.client.get(f"{prefix}/openapi.json")).json()
        for path, operations in document["paths"].items():
            served |= {(method.upper(), prefix + path) for method in operations}
    return served


def _sockets_served(platform: Platform) -> set[str]:
    found = {
        f"websocket {name} {spec.mount_path}{route.path}"
        for name, spec in DIALECTS.items()
        for router in spec.routers
        for route in router.routes
        if isinstance(route, APIWebSocketRoute)
    }
    for name, handlers in (
        ("podplay", PodPlaySurface(platform).handlers),
        ("gary", GarySurface(platform).handlers),
    ):
        found |= {f"socket.io {name} {event}" for event in ["connect", *handlers]}
    return found


def _coverage(served: set[tuple[str, str]], sockets: set[str]) -> list[str]:
    declared = {(row.method, openapi_path(row.path)) for row in ROWS}
    declared_sockets = {f"{row.kind} {row.dialect} {row.name}" for row in SOCKETS}
    return [
        *(f"{m} {p}: served without a row in the table" for m, p in sorted(served - declared)),
        *(f"{m} {p}: a row for a route not served" for m, p in sorted(declared - served)),
        *(f"{s}: served without a row" for s in sorted(sockets - declared_sockets)),
        *(f"{s}: a row for a handler not served" for s in sorted(declared_sockets - sockets)),
    ]


def _report(tally: Tally) -> str:
    routes, sockets = len(tally.routes), len(SOCKETS)
    summary = {
        "routes": routes,
        "socket_handlers": sockets,
        "callers": sorted(tally.callers),
        "checks": tally.checks,
        "failures": len(tally.failures),
        "failed": tally.failures,
    }
    target = os.environ.get("MENAGERIE_RELIABILITY_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / "authz.json").write_text(json.dumps(summary, indent=2) + "\n")
    return (
        f"authorization matrix: {routes} routes and {sockets} socket handlers x "
        f"{len(tally.callers)} callers: {tally.checks} checks, {len(tally.failures)} failures"
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_route_answers_each_caller_as_the_table_says(world: World) -> None:
    tally = Tally()
    tally.failures += _coverage(await _served(world), _sockets_served(world.platform))
    for row in ROWS:
        await run_row(world, row, tally)
    await run_sockets(world, SOCKETS, tally)
    print(_report(tally))
    assert not tally.failures, "\n".join(tally.failures)
    # not vacuous: every route ran, and A's own answers hold what the others' must not
    assert len(tally.routes) == len({row.key for row in ROWS})
    assert tally.checks >= 4 * len(tally.routes)
    assert tally.owner_saw >= 10, tally.owner_saw
