"""MADACE (seed 001), served under `/madace` (its base URL is `/madace/api`)."""

from menagerie.dialects.madace import (
    agents,
    config,
    health,
    llm,
    memory,
    messages,
    sessions,
    state,
    stream,
    sync,
    sync_socket,
    workflows,
)
from menagerie.dialects.madace.envelope import MadaceEnvelope
from menagerie.dialects.madace.schemas import ErrorBody
from menagerie.http.dialect import DialectSpec
from menagerie.http.ratelimit import RateLimitRule, RateLimitTable

SPEC = DialectSpec(
    name="madace",
    title="MADACE API (Menagerie)",
    api_version=health.API_VERSION,
    mount_path="/madace",
    envelope=MadaceEnvelope(),
    routers=(
        health.router,
        llm.router,
        agents.router,
        sessions.router,
        messages.router,
        stream.router,
        memory.router,
        workflows.router,
        state.router,
        config.router,
        sync.router,
        sync_socket.router,
    ),
    description="The MADACE agents, workflows and chat API, served by Menagerie.",
    # seed 001 "Rate Limiting", its announced per-address tiers
    rate_limits=RateLimitTable(
        rules=(
            RateLimitRule("anonymous", "100/minute", key_by="address", callers="anonymous"),
            RateLimitRule("authenticated", "1000/minute", callers="authenticated"),
        ),
    ),
    error_model=ErrorBody,
    validation_status=400,  # seed 001: "400 Bad Request - Invalid request body"
)
