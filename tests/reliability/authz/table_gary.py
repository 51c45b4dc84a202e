"""Crazy Gary's routes (seed 004) in the matrix."""

from __future__ import annotations

from tests.reliability.authz.model import (
    ADMIN,
    OWNER,
    PUBLIC,
    TENANT,
    USER,
    Caller,
    Row,
    row_spec,
)

r = row_spec(
    "gary",
    "/gary",
    {
        "user_id": "user_number",
        "task_id": "task",
        "model_type": "endpoint",
        "alert_id": "alert",
        "client_name": "mcp",
    },
)

HEALTH_NOTE = "public; may answer 503 while a component is down, as its seed says"
OPS_NOTE = "another tenant's admin sees its own tenant's share, nothing of the operator's"
WAKES = "the admin's call starts model servers: tests/dialects/gary/test_endpoints_api.py"
USER_NOTE = (
    "a plain user naming another's number is refused before any lookup (403); another "
    "tenant's admin finds no such user (404)"
)
ENDPOINT_NOTE = "managed endpoints are the operator's: another tenant sees none of them (404)"
MCP_NOTE = "MCP servers are installed per tenant: every user of the tenant shares them"
OFFLINE = "; 503 while the server is not running, as here"
REFRESH = "the refresh token is the credential (Bearer): none is sent, an access token is not one"

ROWS: list[Row] = [
    r("GET /health", PUBLIC, note=HEALTH_NOTE),
    r("GET /health/ready", PUBLIC, note=HEALTH_NOTE),
    r("GET /health/live", PUBLIC, note=HEALTH_NOTE),
    r("GET /api/monitoring/health", PUBLIC, note=HEALTH_NOTE),
    r("GET /api/monitoring/health/detailed", ADMIN, note=OPS_NOTE),
    r("GET /api/monitoring/metrics", ADMIN, note=OPS_NOTE),
    r("GET /api/monitoring/logs/requests", ADMIN, echoes=True, note=OPS_NOTE),
    r("GET /api/monitoring/logs/errors", ADMIN, echoes=True, note=OPS_NOTE),
    r("GET /api/monitoring/incidents", ADMIN),
    r("POST /api/monitoring/incidents", ADMIN, body={"title": "authz matrix incident"}),
    r("GET /api/monitoring/alerts", ADMIN, note=OPS_NOTE),
    r("POST /api/monitoring/alerts/{alert_id}/acknowledge", ADMIN),
    r("GET /api/monitoring/health/dashboard", ADMIN, note=OPS_NOTE),
    r("GET /api/observability/metrics", ADMIN, note=OPS_NOTE),
    r("GET /api/observability/traces/active", ADMIN, echoes=True, note=OPS_NOTE),
    r("GET /api/observability/events/stream", USER, note="a stream: its status is checked"),
    r("POST /api/auth/register", PUBLIC),
    r("POST /api/auth/login", PUBLIC),
    r("POST /api/auth/refresh", PUBLIC, answers=dict.fromkeys(Caller, 401), note=REFRESH),
    r("GET /api/auth/me", USER),
    r("PUT /api/auth/me", USER, body={"name": "renamed"}),
    r("POST /api/auth/change-password", USER),
    r(
        "GET /api/auth/validate",
        PUBLIC,
        answers={Caller.ANONYMOUS: 401},
        note="answers whether the credential is valid: none is 401 {valid: false}",
    ),
    r("GET /api/users", ADMIN),
    r("POST /api/users", ADMIN),
    r("GET /api/users/{user_id}", OWNER, refusal=403, other=404, note=USER_NOTE),
    r(
        "PUT /api/users/{user_id}",
        OWNER,
        body={"username": "renamed"},
        refusal=403,
        other=404,
        note=USER_NOTE,
    ),
    # the admin's delete removes a user of its own, not A
    r(
        "DELETE /api/users/{user_id}",
        ADMIN,
        params={"user_id": "spare_user_number"},
        spends=("spare_user_number",),
    ),
    r("GET /api/endpoints/status", USER),
    r("GET /api/endpoints/status/{model_type}", USER, other=404, note=ENDPOINT_NOTE),
    r("POST /api/endpoints/wake", ADMIN, skip=(Caller.ADMIN,), note=WAKES),
    r(
        "POST /api/endpoints/wake/{model_type}",
        ADMIN,
        skip=(Caller.ADMIN,),
        note=WAKES + "; " + ENDPOINT_NOTE,
    ),
    r("POST /api/endpoints/sleep", ADMIN),
    r("POST /api/endpoints/sleep/{model_type}", ADMIN, note=ENDPOINT_NOTE),
    r("POST /api/chat", USER),
    r("POST /api/tasks", USER),
    r("GET /api/tasks", USER),
    r("GET /api/tasks/{task_id}", OWNER),
    r("POST /api/tasks/{task_id}/start", OWNER),
    r("POST /api/tasks/{task_id}/stop", OWNER),
    r("GET /api/stats", USER),
    r("GET /api/mcp/tools", USER),
    r("GET /api/mcp/tools/search", USER, query={"query": "repositories"}),
    r("GET /api/mcp/tools/{client_name}", TENANT, note=MCP_NOTE + OFFLINE),
    r(
        "POST /api/mcp/execute",
        TENANT,
        body={"tool_name": "list_repositories", "client_name": "{mcp}"},
        skip=(Caller.USER_A, Caller.USER_B),
        note=MCP_NOTE + "; running its server is the MCP tests' part",
    ),
    r("GET /api/mcp/status", USER),
    r("POST /api/heavy/orchestrate", USER),
    r("GET /api/heavy/progress", USER),
    r("GET /api/heavy/progress", OWNER, query={"orchestration_id": "{orchestration}"}),
    r("GET /api/heavy/tools", PUBLIC),
    r("POST /api/heavy/tools/execute", USER),
]
