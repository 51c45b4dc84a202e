"""Secret Panthers orchestrator (seed 002), served under `/panthers`."""

from menagerie.dialects.panthers import agent, auth, deployments, health, socket
from menagerie.dialects.panthers.deps import require_agent_principal
from menagerie.dialects.panthers.envelope import PanthersEnvelope
from menagerie.dialects.panthers.schemas import ErrorBody
from menagerie.http.dialect import DialectSpec
from menagerie.http.ratelimit import RateLimitRule, RateLimitTable

SPEC = DialectSpec(
    name="panthers",
    title="Secret Panthers API (Menagerie)",
    api_version=health.API_VERSION,
    mount_path="/panthers",
    envelope=PanthersEnvelope(),
    routers=(
        health.router,
        auth.router,
        auth.agent_router,
        deployments.router,
        agent.router,
        socket.router,
    ),
    error_model=ErrorBody,
    validation_status=400,  # the envelope answers INVALID_REQUEST / MISSING_FIELD / INVALID_FIELD
    auth_dependencies=(require_agent_principal,),
    description="The Secret Panthers orchestrator and agent API, served by Menagerie.",
    # seed 002 "Rate Limits"; per caller, the orchestrator's and each agent's routes alike
    rate_limits=RateLimitTable(
        rules=(
            RateLimitRule("auth", "5/minute", paths=("/auth", "/agents/*/auth"), key_by="address"),
            RateLimitRule("deployment", "10/minute", paths=("/deployments",)),
            RateLimitRule("chat", "30/minute", paths=("/agents/*/chat",)),
            # the "Other" limit, on a counter of its own so that API traffic from an address
            # never starves its probes and metric scrapes
            RateLimitRule("health", "60/minute", paths=("/health", "/metrics", "/agents/*/health")),
            RateLimitRule("other", "60/minute"),
        ),
    ),
)
