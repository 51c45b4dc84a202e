"""The declared table: every route of every dialect and of the console, every WebSocket and
every socket.io handler, with who may call it. `test_authz_matrix.py` fails on a route or
handler served without a row here, and on a row whose route is no longer served.

It is also the one list of public routes: `tests/reliability/test_auth_required.py` takes
`is_public` from here."""

from __future__ import annotations

import re

from tests.reliability.authz import (
    table_console,
    table_gary,
    table_madace,
    table_metamorph,
    table_openai,
    table_panthers,
    table_podplay,
)
from tests.reliability.authz.model import OWNER, PUBLIC, TENANT, USER, Row, SocketRow

# each dialect's OpenAPI document, by the prefix it is mounted at
PREFIXES: dict[str, str] = {
    "podplay": "/podplay",
    "madace": "/madace",
    "panthers": "/panthers",
    "metamorph": "/metamorph",
    "gary": "/gary",
    "openai": "/v1",
    "console": "/console/api",
}

ROWS: list[Row] = [
    *table_podplay.ROWS,
    *table_madace.ROWS,
    *table_panthers.ROWS,
    *table_metamorph.ROWS,
    *table_gary.ROWS,
    *table_openai.ROWS,
    *table_console.ROWS,
]

SOCKETS: list[SocketRow] = [
    SocketRow("panthers", "websocket", "/panthers/ws", USER),
    SocketRow(
        "panthers",
        "websocket",
        "/panthers/agents/{nft_token_id}/ws",
        OWNER,
        note="another NFT's wallet is refused (NFT_MISMATCH)",
    ),
    SocketRow(
        "madace",
        "websocket",
        "/madace/ws",
        USER,
        note="a signed-in client is told the sync service is not running (1013), not refused",
    ),
    SocketRow("podplay", "socket.io", "connect", USER),
    SocketRow(
        "podplay",
        "socket.io",
        "mama_bear_message",
        OWNER,
        note="names a chat session by id: another's is refused, and its answers never heard",
    ),
    SocketRow(
        "podplay",
        "socket.io",
        "typing_indicator",
        TENANT,
        note=(
            "relayed among the tenant's clients naming the same session id (seed 000): user B "
            "may hear A type, never A's answers; another tenant hears nothing"
        ),
    ),
    SocketRow("podplay", "socket.io", "terminal_input", OWNER, note="names a workspace by id"),
    SocketRow("gary", "socket.io", "connect", USER, note="the seed defines no client event"),
]


def openapi_path(path: str) -> str:
    """`{sandbox_id:sandbox_id}` as OpenAPI writes it: `{sandbox_id}`."""
    return re.sub(r"\{([^}:]+):[^}]*\}", r"{\1}", path)


PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    (row.method, openapi_path(row.path)) for row in ROWS if row.access is PUBLIC
)


def is_public(method: str, path: str) -> bool:
    """Whether the table lets anonymous callers use this route (`path` as OpenAPI names it,
    prefix included)."""
    return (method.upper(), openapi_path(path)) in PUBLIC_ROUTES
