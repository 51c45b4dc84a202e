"""PodPlay Sanctuary (seed 000), served under `/podplay`."""

from menagerie.dialects.podplay import (
    auth,
    chat,
    health,
    maintenance,
    mcp,
    models,
    scout,
    workspaces,
)
from menagerie.dialects.podplay.envelope import PodPlayEnvelope
from menagerie.dialects.podplay.schemas import ErrorBody
from menagerie.http.dialect import DialectSpec
from menagerie.http.ratelimit import RateLimitRule, RateLimitTable

SPEC = DialectSpec(
    name="podplay",
    title="PodPlay Sanctuary API (Menagerie)",
    api_version=health.API_VERSION,
    mount_path="/podplay",
    envelope=PodPlayEnvelope(),
    routers=(
        health.router,
        auth.router,
        models.router,
        # the services maintenance mode takes down: 503 SERVICE_UNAVAILABLE while it does
        chat.router,
        mcp.router,
        workspaces.router,
        maintenance.router,
        scout.router,
    ),
    description="The PodPlay Sanctuary agent framework API, served by Menagerie.",
    error_model=ErrorBody,
    # a request failing its schema is 422 "Validation failed"; a body that is not JSON, 400
    validation_status=422,
    # seed 000 "Rate Limiting": requests per hour and a burst limit per minute, per caller
    rate_limits=RateLimitTable(
        rules=(
            RateLimitRule("chat", "1000/hour;50/minute", paths=("/api/chat",)),
            RateLimitRule("mcp", "500/hour;25/minute", paths=("/api/mcp",)),
            RateLimitRule("workspaces", "100/hour;10/minute", paths=("/api/workspaces",)),
            # "Health Checks: Unlimited per hour, 100/minute"
            RateLimitRule("health", "100/minute", paths=("/api/health", "/api/test-connection")),
            RateLimitRule("models", "2000/hour;100/minute", paths=("/api/models",)),
            # not in the seed's table (Scout projects, unknown paths): the Chat API's row
            RateLimitRule("default", "1000/hour;50/minute"),
        ),
        window_header=True,
    ),
)
