"""MADACE (seed 001) at `/madace`; clients set the base URL `/madace/api`."""

from tests.contract import seeds
from tests.contract.harness import Contract

SESSIONS = "GET /api/v3/chat/sessions"
SESSION = "GET /api/v3/chat/sessions/{}"
MESSAGES = "GET /api/v3/chat/sessions/{}/messages"
MEMORY = "GET /api/v3/chat/sessions/{}/memory"
SAVE_MEMORY = "POST /api/v3/chat/sessions/{}/memory"

CONTRACT = Contract(
    seed="001",
    dialect="madace",
    pending={},
    codes=seeds.error_codes("001", "Chat Error Codes", "Common Error Codes"),
    # each listed in docs/contract.md "## MADACE"
    nullable={
        (SESSIONS, "sessions[].lastMessageAt"): "null until the session has a message",
        (SESSION, "session.lastMessageAt"): "null until the session has a message",
        (SESSION, "session.agent"): "null when the agent's file was removed since",
        (MESSAGES, "messages[].replyToId"): "null when not a reply (the seed's first message)",
        (MESSAGES, "messages[].metadata"): "null when the message has none (the seed's too)",
        (MEMORY, "memory[].sessionId"): "null for the agent's memory across sessions",
        (MEMORY, "memory[].key"): "null for a memory saved as plain text by another API",
        (MEMORY, "memory[].context"): "null when saved without context",
        (MEMORY, "memory[].lastAccessedAt"): "null until the memory is read",
        (SAVE_MEMORY, "memory.context"): "null when saved without context (it is optional)",
        (SAVE_MEMORY, "memory.expiresAt"): "null when saved without expiresAt (optional)",
        ("POST /api/workflows/{}/execute", "nextPrompt"): "null once the last step is done",
    },
    # the caller's own keys; a workflow's variables are named by its steps
    free_form=frozenset({"metadata", "session.metadata", "variables"}),
    # the stream answers Server-Sent Events, checked by the chat tests event by event
    not_json=frozenset({"POST /api/v3/chat/stream"}),
)
