"""The composition root: settings -> Platform -> one ASGI app with every surface mounted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response

from menagerie import __version__
from menagerie.dialects.gary.socket import GarySurface
from menagerie.dialects.podplay.socket import PodPlaySurface
from menagerie.dialects.registry import DIALECTS
from menagerie.http.dialect import DialectSpec, build_dialect_app, mount_surface
from menagerie.http.errors import ErrorEnvelope, install_error_handling
from menagerie.http.middleware import ApiVersionMiddleware, RequestContextMiddleware
from menagerie.logs import configure_logging
from menagerie.platform import Platform
from menagerie.realtime.hub import Hub, Surface
from menagerie.realtime.socketio import asgi_app as socketio_app
from menagerie.realtime.socketio import build_server
from menagerie.serving import claim_once, exit_with_parent, parent_pid
from menagerie.settings import Settings
from menagerie.web.console import install_console
from menagerie.web.docs import install_docs

log = logging.getLogger(__name__)


class RootEnvelope(ErrorEnvelope):
    """Errors on paths outside every dialect."""

    def code_for(self, error: Any) -> str:
        return str(error.reason)  # no seed's vocabulary out here: core's own word

    def body(self, error: Any, *, code: str, status: int, request_id: str) -> dict[str, Any]:
        return {"error": {"code": code, "message": error.message}, "request_id": request_id}


def create_app(
    settings: Settings | None = None,
    platform: Platform | None = None,
    dialects: dict[str, DialectSpec] | None = None,
) -> FastAPI:
    """Build the server. `platform` and `dialects` may be handed in; the lifespan starts it."""
    settings = settings or (platform.settings if platform else Settings())
    platform = platform or Platform.build(settings)
    configure_logging(settings.log_level, platform.redactor)
    if platform.supervises_deployments and not claim_once(settings, "deployments"):
        # of `serve --workers N`, one worker resumes the deployments a stopped server left
        # (resuming ends the processes it finds: N would end each other's); every worker still
        # supervises those deployed through it
        platform.supervises_deployments = False

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        parent = parent_pid()  # a worker of `serve --workers N` ends with its parent
        orphaned = asyncio.create_task(exit_with_parent(parent)) if parent else None
        await platform.start()
        for relay in relays:
            await relay.start()
        try:
            yield
        finally:
            if orphaned is not None:
                orphaned.cancel()
            for relay in relays:
                await relay.stop()
            await platform.stop()

    app = FastAPI(
        title="Menagerie",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.platform = platform
    specs = list((dialects or DIALECTS).values())
    install_console(app, platform)
    install_docs(app, [(s.title, f"{s.mount_path}/openapi.json") for s in specs])

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus text format, or OpenMetrics when the scraper asks for it."""
        body, content_type = platform.metrics.exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    # socket.io first, so that `<prefix>/socket.io` is not taken for a dialect's route
    podplay, gary = PodPlaySurface(platform), GarySurface(platform)
    available: dict[str, Surface] = {"podplay": podplay, "gary": gary}
    surfaces = {s.name: available[s.name] for s in specs if s.name in available}
    root_surface = settings.root_dialect if settings.root_dialect in surfaces else "podplay"
    hub = Hub(
        build_server(settings.redis_url),
        surfaces,
        prefixes={s.mount_path: s.name for s in specs if s.name in surfaces},
        root=root_surface if root_surface in surfaces else next(iter(surfaces), "podplay"),
        on_connections=(
            (lambda surface, delta: platform.metrics.connection("socketio", surface, delta))
            if settings.metrics_enabled
            else None
        ),
    )
    relays = [podplay.relay(hub), gary.relay(hub)]
    sockets = socketio_app(hub.server)
    for path in hub.paths():
        app.mount(path, sockets, name=f"socket.io{path}")

    dialect_apps = {spec.name: build_dialect_app(spec, platform) for spec in specs}
    for spec in specs:
        mount_surface(app, spec.mount_path, dialect_apps[spec.name], spec.name)
    if settings.root_dialect:
        # last, so the prefixed mounts and the server's own routes win
        mount_surface(
            app, "/", dialect_apps[settings.root_dialect], f"{settings.root_dialect}-root"
        )

    install_error_handling(app, RootEnvelope())
    app.add_middleware(ApiVersionMiddleware, version=__version__)
    app.add_middleware(
        RequestContextMiddleware,
        stats=platform.request_stats,
        metrics=platform.metrics if settings.metrics_enabled else None,
        prefixes={s.mount_path: s.name for s in specs},
        logbook=platform.logbook,
        tracer=platform.tracing.tracer if platform.tracing.enabled else None,
    )
    return app
