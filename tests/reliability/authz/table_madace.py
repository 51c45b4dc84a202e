"""MADACE's routes (seed 001) in the matrix."""

from __future__ import annotations

from tests.reliability.authz.model import (
    OPERATOR,
    OWNER,
    PUBLIC,
    USER,
    Caller,
    Fixed,
    Row,
    row_spec,
)

r = row_spec(
    "madace",
    "/madace",
    {"session_id": "session", "name": Fixed("pm")},
)

AGENT = "chat-assistant-001"
WORKFLOW = Fixed("plan-project")
PROJECT_NOTE = "the tenant's project (state, configuration, workflows): its users share it"

ROWS: list[Row] = [
    r("GET /api/health", PUBLIC),
    r("POST /api/llm/test", USER),
    r("GET /api/agents", USER),
    r("GET /api/agents/{name}", USER),
    # `userId` names A: a plain user still creates and lists only its own sessions
    r("POST /api/v3/chat/sessions", USER, body={"userId": "{user_a}", "agentId": AGENT}),
    r("GET /api/v3/chat/sessions", USER, query={"userId": "{user_a}"}),
    r("GET /api/v3/chat/sessions/{session_id}", OWNER),
    r("DELETE /api/v3/chat/sessions/{session_id}", OWNER, spends=("session",)),
    r(
        "POST /api/v3/chat/sessions/{session_id}/messages",
        OWNER,
        body={"role": "user", "content": "one more thing"},
    ),
    r("GET /api/v3/chat/sessions/{session_id}/messages", OWNER),
    r(
        "POST /api/v3/chat/stream",
        OWNER,
        body={"sessionId": "{session}", "agentId": AGENT, "content": "and then?"},
    ),
    r("GET /api/v3/chat/sessions/{session_id}/memory", OWNER),
    r(
        "POST /api/v3/chat/sessions/{session_id}/memory",
        OWNER,
        body={"category": "notes", "key": "colour", "value": "green"},
    ),
    r("DELETE /api/v3/chat/sessions/{session_id}/memory", OWNER),
    r("GET /api/workflows", USER),
    r("GET /api/workflows/{name}", USER, params={"name": WORKFLOW}),
    r("GET /api/workflows/{name}/state", USER, params={"name": WORKFLOW}, note=PROJECT_NOTE),
    r(
        "POST /api/workflows/{name}/execute",
        USER,
        params={"name": WORKFLOW},
        skip=(Caller.USER_A,),
        note=PROJECT_NOTE + "; a step runs the agent loop: tests/dialects/madace",
    ),
    r("GET /api/state", USER, note=PROJECT_NOTE),
    r("GET /api/config", USER, note=PROJECT_NOTE),
    r("POST /api/config", USER, note=PROJECT_NOTE),
    r("GET /api/sync", USER),
    r(
        "POST /api/sync",
        OPERATOR,
        body={"action": "stop"},
        note="one service watches every tenant's files: 403 OPERATOR_REQUIRED for another tenant",
    ),
]
