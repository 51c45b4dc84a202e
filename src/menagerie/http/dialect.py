"""Building one dialect's ASGI app: its routes, its error envelope, its version header, its
rate limits."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from starlette.routing import Mount
from starlette.types import ASGIApp

from menagerie.http.body_limit import BodyLimitMiddleware
from menagerie.http.errors import ErrorEnvelope, install_error_handling
from menagerie.http.middleware import ApiVersionMiddleware
from menagerie.http.openapi import document_errors, drop_unanswered_validation_errors
from menagerie.http.ratelimit import RateLimitTable, install_rate_limits

if TYPE_CHECKING:
    from menagerie.platform import Platform


@dataclass(frozen=True)
class DialectSpec:
    """What a dialect package declares about itself."""

    name: str
    title: str
    api_version: str
    mount_path: str  # where the combined server mounts it
    envelope: ErrorEnvelope
    routers: Sequence[APIRouter] = field(default_factory=tuple)
    description: str = ""
    rate_limits: RateLimitTable | None = None  # its seed's route categories and limits
    # the envelope as a wire model: the schema of every error response in its OpenAPI document
    error_model: type[BaseModel] | None = None
    validation_status: int = 400  # what a request failing its schema answers (400 or 422)
    # this dialect's own credential dependencies, beside the shared principal and admin
    auth_dependencies: Sequence[Callable[..., Any]] = field(default_factory=tuple)


def build_dialect_app(spec: DialectSpec, platform: Platform) -> FastAPI:
    app = FastAPI(
        title=spec.title,
        version=spec.api_version,
        description=spec.description,
        docs_url=None,  # the server's /docs serves every dialect's spec from local assets
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.platform = platform
    app.state.dialect = spec.name
    for router in spec.routers:
        app.include_router(router)
    if spec.error_model is not None:
        document_errors(
            spec.routers,
            spec.error_model,
            validation_status=spec.validation_status,
            rate_limited=spec.rate_limits is not None,
            auth_dependencies=spec.auth_dependencies,
        )
        if spec.validation_status != 422:
            drop_unanswered_validation_errors(app)
    install_error_handling(app, spec.envelope)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=platform.settings.max_body_bytes, envelope=spec.envelope
    )
    if spec.rate_limits is not None and platform.rate_limiter.enabled:
        # outside the body limit: a refused request is answered before its body is read
        install_rate_limits(
            app,
            limiter=platform.rate_limiter,
            dialect=spec.name,
            table=spec.rate_limits,
            envelope=spec.envelope,
        )
    app.add_middleware(ApiVersionMiddleware, version=spec.api_version)
    return app


def mount_surface(app: FastAPI, path: str, surface: ASGIApp, name: str) -> None:
    """Mount a surface so that every path under its prefix reaches it, one holding an encoded
    newline (`%0A`) too: Starlette's prefix pattern stops at a newline, and such a request was
    answered by the root's 404 instead of the surface's own, in the wrong envelope."""
    app.mount(path, surface, name=name)
    route = app.router.routes[-1]
    assert isinstance(route, Mount)
    route.path_regex = re.compile(route.path_regex.pattern, re.DOTALL)
