"""Crazy Gary (seed 004) at `/gary`."""

import dataclasses

from tests.contract import seeds
from tests.contract.harness import Contract

CONTRACT = Contract(
    seed="004",
    dialect="gary",
    pending={},
    codes=seeds.error_codes("004", "Common Error Codes"),
    nullable={
        **{
            (route, "user.last_login"): "an account that never signed in with a password (the "
            "bootstrap admin, acting by API token) has no last sign-in"
            for route in (
                "POST /api/auth/register",
                "POST /api/auth/login",
                "GET /api/auth/me",
                "PUT /api/auth/me",
            )
        },
        ("GET /api/tasks", "[].model"): "a task has no model until one is chosen for it",
        ("GET /api/tasks/{}", "model"): "a task has no model until one is chosen for it",
        ("POST /api/heavy/orchestrate", "estimated_duration"): "no step of its tools was "
        "measured yet for the caller: estimates come from measured durations only",
        ("POST /api/heavy/tools/execute", "result"): "a tool that failed has no result: "
        "success is false and error says why",
        ("GET /api/heavy/progress", "estimated_time_remaining"): "no step of its tools was "
        "measured yet for the caller: estimates come from measured durations only",
        **{
            (route, f"{prefix}{name}"): reason
            for route, prefixes in (
                ("GET /api/endpoints/status", ("endpoints.120b.", "endpoints.20b.")),
                ("GET /api/endpoints/status/{}", ("",)),
            )
            for prefix in prefixes
            for name, reason in (
                ("url", "a local model server has no address until it is started"),
                ("last_activity", "the seed shows null: no use since it woke"),
                ("wake_time", "the seed shows null: not woken (sleeping)"),
                ("sleep_time", "the seed shows null: not asleep (running)"),
                ("auto_sleep_in", "the seed shows null: only a running endpoint has one"),
            )
        },
    },
    # a span's tags are its OpenTelemetry attributes, whatever the span carries
    free_form=frozenset({"[].tags"}),
)

# MCP: a tool's JSON Schema and a tool's result are the tool's own objects (docs/contract.md)
CONTRACT = dataclasses.replace(CONTRACT, free_form=CONTRACT.free_form | {"[].schema", "result"})
# heavy tools: each tool's parameters are its own (the seed's two tools show different ones)
CONTRACT = dataclasses.replace(CONTRACT, free_form=CONTRACT.free_form | {"[].parameters"})
