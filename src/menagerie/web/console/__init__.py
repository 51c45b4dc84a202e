"""The web console: a single page at `/`, its static files, and its own API at
`/console/api` (signed in with a browser session cookie, errors as sentences)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from menagerie.http.dialect import DialectSpec, build_dialect_app, mount_surface
from menagerie.http.openapi import errors
from menagerie.http.ratelimit import RateLimitRule, RateLimitTable
from menagerie.web.console import auth, chat, events, memories, models, monitor, runs, tools
from menagerie.web.console.deps import API_PATH, console_admin, console_principal
from menagerie.web.console.envelope import ConsoleEnvelope
from menagerie.web.console.schemas.common import ConsoleError

if TYPE_CHECKING:
    from menagerie.platform import Platform

STATIC = Path(__file__).parent / "static"
STATIC_PATH = "/console/static"

ROUTERS = (
    auth.router,
    chat.router,
    events.router,
    memories.router,
    models.router,
    tools.router,
    runs.router,
    monitor.router,
)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _document_refusals(routers: tuple[APIRouter, ...]) -> None:
    """Every route names what it refuses besides what every route can (bad input, no
    credential, rate limit): 404 where its path or body names an object (a session, an
    agent, a template, a server), 409 where a write can meet a state that refuses it (a task
    already running, a server already installed). A route that names its own keeps them."""
    for router in routers:
        for route in router.routes:
            declared = getattr(route, "responses", None) or {}
            if any(int(status) >= 400 for status in declared):
                continue
            methods = getattr(route, "methods", None) or set()
            names_object = "{" in getattr(route, "path", "") or "POST" in methods
            statuses = [404] if names_object else []
            if methods & WRITES and names_object:
                statuses.append(409)
            for status, response in errors(*statuses).items():
                route.responses.setdefault(status, response)  # type: ignore[attr-defined]


_document_refusals(ROUTERS)

SPEC = DialectSpec(
    name="console",
    title="Menagerie console API",
    api_version="1.0.0",
    mount_path=API_PATH,
    envelope=ConsoleEnvelope(),
    routers=ROUTERS,
    description="The web console's own API: what its pages read and change.",
    rate_limits=RateLimitTable(
        rules=(
            # password and token guessing: counted by address, before anyone is signed in
            RateLimitRule(
                "sign_in",
                "20/minute",
                paths=("/session",),
                key_by="address",
                callers="anonymous",
            ),
            RateLimitRule("default", "1200/minute"),
        )
    ),
    error_model=ConsoleError,
    validation_status=400,
    auth_dependencies=(console_principal, console_admin),
)


def install_console(app: FastAPI, platform: Platform) -> None:
    """`/` serves the page; the page loads its modules from `/console/static` and talks to
    `/console/api`. Nothing comes from the network: every file is in the package."""
    index = STATIC / "index.html"

    @app.get("/", include_in_schema=False)
    async def console_page() -> FileResponse:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="console-static")
    mount_surface(app, API_PATH, build_dialect_app(SPEC, platform), "console-api")
