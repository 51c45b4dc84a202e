"""The web console's API (/console/api) in the matrix."""

from __future__ import annotations

from tests.reliability.authz.model import (
    ADMIN,
    OWNER,
    PUBLIC,
    TENANT,
    USER,
    Caller,
    Fixed,
    Row,
    row_spec,
)

r = row_spec(
    "console",
    "/console/api",
    {
        "session_id": "session",
        "memory_id": "memory",
        "name": "mcp",
        "tool": Fixed("list_repositories"),
        "task_id": "task",
        "orchestration_id": "orchestration",
        "sandbox_id": "sandbox",
        "alert_id": "alert",
    },
)

MCP_NOTE = "MCP servers are installed per tenant: every user of the tenant shares them"
RUNS_SERVER = "running its server is the MCP tests' part (tests/web/test_tools_api.py)"
ENDPOINT = {"name": "endpoint"}
ENDPOINT_NOTE = "managed endpoints are the operator's: another tenant sees none of them (404)"
SEARCH = "authz owned 4417"  # words of A's marker: A finds its objects, no one else does
OPS_NOTE = "another tenant's admin sees its own tenant's share, nothing of the operator's"

ROWS: list[Row] = [
    r("POST /session", PUBLIC),
    r("GET /session", USER),
    r("DELETE /session", USER, fresh_credential=True),
    r("GET /agents", USER),
    r("GET /sessions", USER),
    r("GET /sessions", USER, query={"q": "authz-owned"}),
    r("POST /sessions", USER),
    r("GET /sessions/{session_id}", OWNER),
    r("DELETE /sessions/{session_id}", OWNER, spends=("session",)),
    r("GET /sessions/{session_id}/messages", OWNER),
    r("POST /sessions/{session_id}/turns", OWNER, body={"message": "and more"}),
    r("POST /sessions/{session_id}/retry", OWNER),
    r("GET /events", USER, query={"topics": "task.*"}, note="a stream: its status is checked"),
    r("GET /memories", USER),
    r("GET /memories", USER, query={"q": SEARCH}),
    r("GET /memory/categories", USER),
    r("POST /memory/prune", USER, body={}),
    r("GET /memories/{memory_id}", OWNER),
    r("PATCH /memories/{memory_id}", OWNER, body={"importance": 0.9}),
    r("DELETE /memories/{memory_id}", OWNER, spends=("memory",)),
    r("GET /models", USER),
    r("GET /models/usage", USER),
    r("GET /models/quotas", USER),
    r("GET /models/endpoints", USER),
    r(
        "POST /models/endpoints/{name}/wake",
        ADMIN,
        params=ENDPOINT,
        skip=(Caller.ADMIN,),
        note="the admin's call starts a model server; " + ENDPOINT_NOTE,
    ),
    r("POST /models/endpoints/{name}/sleep", ADMIN, params=ENDPOINT, note=ENDPOINT_NOTE),
    r("GET /tools/categories", USER),
    r("GET /tools/catalog", USER),
    r("GET /tools/servers", USER),
    r("POST /tools/servers", USER),
    r("GET /tools/servers/{name}", TENANT, note=MCP_NOTE),
    r("PATCH /tools/servers/{name}", TENANT, body={"configuration": {}}, note=MCP_NOTE),
    r(
        "POST /tools/servers/{name}/restart",
        TENANT,
        skip=(Caller.USER_A, Caller.USER_B),
        note=MCP_NOTE + "; " + RUNS_SERVER,
    ),
    r("POST /tools/servers/{name}/stop", TENANT, note=MCP_NOTE),
    r("DELETE /tools/servers/{name}", TENANT, spends=("mcp",), note=MCP_NOTE),
    r(
        "GET /tools/servers/{name}/tools",
        TENANT,
        skip=(Caller.USER_A, Caller.USER_B),
        note=MCP_NOTE + "; " + RUNS_SERVER,
    ),
    r(
        "POST /tools/servers/{name}/tools/{tool}/call",
        TENANT,
        body={"arguments": {}},
        skip=(Caller.USER_A, Caller.USER_B),
        note=MCP_NOTE + "; " + RUNS_SERVER,
    ),
    r("POST /tools/import", USER),
    r("GET /tasks", USER),
    r("POST /tasks", USER),
    r("GET /tasks/{task_id}", OWNER),
    r("POST /tasks/{task_id}/stop", OWNER),
    r("POST /tasks/{task_id}/start", OWNER),
    r("GET /orchestrations", USER),
    r("GET /orchestrations/{orchestration_id}", OWNER),
    r("GET /sandbox/templates", USER),
    r("GET /sandboxes", USER),
    r("POST /sandboxes", USER),
    r("GET /sandboxes/{sandbox_id}", OWNER),
    r(
        "POST /sandboxes/{sandbox_id}/start",
        OWNER,
        skip=(Caller.USER_A,),
        note="the owner's start runs a sandbox: tests/web/test_runs.py",
    ),
    r("POST /sandboxes/{sandbox_id}/stop", OWNER),
    r("DELETE /sandboxes/{sandbox_id}", OWNER, spends=("sandbox",)),
    r(
        "POST /sandboxes/{sandbox_id}/terminal",
        OWNER,
        params={"sandbox_id": "workspace"},
        body={"session_id": "term1", "command": "echo hello"},
        note="only a workspace has a shell",
    ),
    r(
        "DELETE /sandboxes/{sandbox_id}/terminal/{session_id}",
        OWNER,
        params={"sandbox_id": "workspace", "session_id": Fixed("term1")},
        note="no shell is opened: the sandbox is the object checked",
    ),
    r("GET /monitor/health", ADMIN, note=OPS_NOTE),
    r("GET /monitor/overview", ADMIN, echoes=True, note=OPS_NOTE),
    r("GET /monitor/alerts", ADMIN, note=OPS_NOTE),
    r("POST /monitor/alerts/{alert_id}/acknowledge", ADMIN),
    r("GET /monitor/requests", ADMIN, echoes=True, note=OPS_NOTE),
    r("GET /monitor/errors", ADMIN, echoes=True, note=OPS_NOTE),
]
