"""Metamorph's routes (seed 003) in the matrix.

Callers are vaults' users: user A and user B are two subjects of one vault (its tenant), the
other tenant is another vault. Vaults have no admins."""

from __future__ import annotations

from tests.reliability.authz.model import OWNER, PUBLIC, USER, Caller, Row, row_spec

r = row_spec(
    "metamorph",
    "/metamorph",
    {"session_id": "vault_session", "memory_id": "vault_memory", "sandbox_id": "vault_sandbox"},
)
VERCEL_NOTE = "503 while no Vercel OAuth client is configured, as here"

ROWS: list[Row] = [
    r("GET /api/vercel/auth/url", USER, note=VERCEL_NOTE),
    r("GET /api/vercel/auth/callback", PUBLIC, note="the provider's redirect; " + VERCEL_NOTE),
    r("DELETE /api/vercel/auth/disconnect", USER),
    r("GET /api/vercel/auth/status", USER),
    r("POST /api/sandboxes", USER),
    r("GET /api/sandboxes", USER),
    r("GET /api/sandboxes/usage", USER),
    r("GET /api/sandboxes/{sandbox_id}", OWNER),
    r("DELETE /api/sandboxes/{sandbox_id}", OWNER, spends=("vault_sandbox",)),
    r(
        "POST /api/sandboxes/{sandbox_id}/start",
        OWNER,
        skip=(Caller.USER_A,),
        note="the owner's start runs a sandbox: tests/dialects/metamorph/test_sandboxes.py",
    ),
    r("POST /api/sandboxes/{sandbox_id}/stop", OWNER),
    r("POST /api/sandboxes/{sandbox_id}/execute", OWNER, body={"command": "echo hello"}),
    r(
        "POST /api/sandboxes/{sandbox_id}/files",
        OWNER,
        body={"files": [{"path": "notes.txt", "content": "hello"}]},
    ),
    r("POST /api/sandboxes/{sandbox_id}/agent/attach", OWNER),
    r("POST /api/sandboxes/{sandbox_id}/agent/chat", OWNER, body={"message": "hello"}),
    r("GET /api/sessions", USER),
    r("POST /api/sessions", USER),
    r("GET /api/sessions/{session_id}", OWNER),
    r("DELETE /api/sessions/{session_id}", OWNER, spends=("vault_session",)),
    r("GET /api/memories", USER),
    r("POST /api/memories", USER, body={"content": "a vault fact"}),
    r("DELETE /api/memories/{memory_id}", OWNER, spends=("vault_memory",)),
]
