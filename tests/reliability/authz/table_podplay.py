"""PodPlay's routes (seed 000) in the matrix."""

from __future__ import annotations

from tests.reliability.authz.model import (
    ADMIN,
    OPERATOR,
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
    "podplay",
    "/podplay",
    {
        "session_id": "session",
        "workspace_id": "workspace",
        "server_name": "mcp",
        "token_id": "token",
        "project_name": "scout_name",
        "project_id": "scout_id",
        "service_name": Fixed("mama_bear"),
    },
)

MCP_NOTE = "MCP servers are installed per tenant: every user of the tenant shares them"
SEARCH = "authz owned 4417"  # words of A's marker: A finds its memory, no one else does
OFFLINE = "; 503 while the server is not running, as here"
HEALTH_NOTE = "public; may answer 503 while a component is down, as its seed says"

ROWS: list[Row] = [
    r("GET /api/test-connection", PUBLIC),
    r("GET /api/health", PUBLIC, note=HEALTH_NOTE),
    r("GET /api/health/{service_name}", PUBLIC, note=HEALTH_NOTE),
    r("POST /api/auth/login", PUBLIC),
    r("POST /api/auth/logout", USER, fresh_credential=True),
    r("GET /api/auth/me", USER),
    r("POST /api/auth/tokens", ADMIN, body={"name": "authz matrix"}),
    r("GET /api/auth/tokens", ADMIN),
    r("DELETE /api/auth/tokens/{token_id}", ADMIN, spends=("token",)),
    r("GET /api/models", USER),
    r("POST /api/models/route", USER),
    r("GET /api/models/usage", USER),
    # a session id names A's session: B and the other tenant may neither read nor extend it
    r(
        "POST /api/chat/mama-bear",
        OWNER,
        body={"message": "hello again", "session_id": "{session}"},
        refusal=(404, 409),
        note="409 SESSION_ID_TAKEN: the id is taken, whose is not said",
    ),
    # `user_id` names A: a plain user is still answered with its own, as the seed's clients
    # send a label of their own choosing there
    r("GET /api/chat/history", USER, query={"user_id": "{user_a}"}),
    r("GET /api/chat/history", OWNER, query={"session_id": "{session}", "user_id": "{user_a}"}),
    r("DELETE /api/chat/history/{session_id}", OWNER, spends=("session",)),
    r("POST /api/chat/store-memory", USER, body={"content": "a thing to remember"}),
    r("GET /api/chat/memories", USER, query={"user_id": "{user_a}"}),
    r("GET /api/chat/memories", USER, query={"user_id": "{user_a}", "search": SEARCH}),
    r("GET /api/mcp/search", USER),
    r("GET /api/mcp/categories", USER),
    r("POST /api/mcp/install", USER),
    r("GET /api/mcp/installed", USER),
    r("DELETE /api/mcp/uninstall/{server_name}", TENANT, spends=("mcp",), note=MCP_NOTE),
    r(
        "POST /api/mcp/configure/{server_name}",
        TENANT,
        body={"configuration": {"api_token": "ghp_authzMatrix0123456789"}},
        note=MCP_NOTE,
    ),
    r(
        "POST /api/mcp/execute/{server_name}",
        TENANT,
        body={"tool_name": "list_repositories", "parameters": {}},
        skip=(Caller.USER_A, Caller.USER_B),
        note=MCP_NOTE + "; running its server is the MCP tests' part",
    ),
    r("GET /api/mcp/tools/{server_name}", TENANT, note=MCP_NOTE + OFFLINE),
    r("POST /api/mcp/import", USER),
    r("GET /api/mcp/export", USER),
    r("GET /api/workspaces", USER),
    r("POST /api/workspaces", USER),
    r("GET /api/workspaces/{workspace_id}", OWNER),
    r(
        "POST /api/workspaces/{workspace_id}/start",
        OWNER,
        skip=(Caller.USER_A,),
        note="the owner's start runs a workspace: tests/dialects/podplay/test_workspaces.py",
    ),
    r("POST /api/workspaces/{workspace_id}/stop", OWNER),
    r("DELETE /api/workspaces/{workspace_id}", OWNER, spends=("workspace",)),
    r("GET /api/admin/maintenance", ADMIN),
    r(
        "POST /api/admin/maintenance",
        OPERATOR,
        body={"enabled": False},
        note="403 OPERATOR_REQUIRED for another tenant's admin",
    ),
    r("GET /api/v1/scout_agent/projects", USER),
    r("POST /api/v1/scout_agent/projects", USER),
    r("GET /api/v1/scout_agent/projects/{project_name}/status", OWNER),
    r(
        "POST /api/v1/scout_agent/projects/{project_id}/deploy",
        OWNER,
        body={"environment": "preview", "platform": "local"},
        skip=(Caller.USER_A,),
        note="the owner's deploy builds and serves: tests/dialects/podplay/test_scout.py",
    ),
]
