"""Crazy Gary (seed 004), served under `/gary`."""

from menagerie.dialects.gary import (
    auth,
    chat,
    endpoints,
    health,
    heavy,
    mcp,
    monitoring,
    observability,
    tasks,
    users,
)
from menagerie.dialects.gary.envelope import GaryEnvelope
from menagerie.dialects.gary.schemas import ErrorBody
from menagerie.http.dialect import DialectSpec
from menagerie.http.ratelimit import RateLimitRule, RateLimitTable

SPEC = DialectSpec(
    name="gary",
    title="Crazy Gary API (Menagerie)",
    api_version=health.API_VERSION,
    mount_path="/gary",
    envelope=GaryEnvelope(),
    routers=(
        health.router,
        monitoring.router,
        observability.router,
        auth.router,
        users.router,
        endpoints.router,
        chat.router,
        tasks.router,
        mcp.router,
        heavy.router,
    ),
    description="The Crazy Gary agent orchestration API, served by Menagerie.",
    # seed 004 "Rate Limits by Endpoint Type", per caller; "Authentication" is the routes that
    # take a password or issue tokens, counted by address (`me` and `validate` are general)
    rate_limits=RateLimitTable(
        rules=(
            RateLimitRule(
                "auth",
                "10/hour",
                paths=tuple(
                    f"/api/auth/{name}"
                    for name in ("register", "login", "refresh", "change-password")
                ),
                key_by="address",
            ),
            RateLimitRule("endpoints", "100/hour", paths=("/api/endpoints",)),
            RateLimitRule(
                "monitoring", "500/hour", paths=("/api/monitoring", "/api/observability")
            ),
            # probes (/health, /ready, /live) are not in the seed's table: PodPlay's health row
            RateLimitRule("health", "100/minute", paths=("/health",)),
            RateLimitRule("general", "1000/hour"),
        ),
        window_header=True,
    ),
    error_model=ErrorBody,
    validation_status=400,  # the seed's "400: Invalid input"
)
