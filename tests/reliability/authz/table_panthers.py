"""Secret Panthers' routes (seed 002) in the matrix.

User A and user B are wallets signed in for NFTs 77 and 78. An NFT's id is public (the chain
says who holds it), so a caller without a session for it is told so (403 `NFT_MISMATCH`)
rather than answered 404."""

from __future__ import annotations

from tests.reliability.authz.model import OWNER, PUBLIC, USER, Caller, Fixed, Row, row_spec

MINE, THEIRS = "77", "78"
r = row_spec("panthers", "/panthers", {"nft_token_id": Fixed(MINE)})
NFT_NOTE = "403 NFT_MISMATCH: the NFT is public, the credential is not for it"

ROWS: list[Row] = [
    r("GET /health", PUBLIC),
    r("GET /metrics", PUBLIC),
    r("POST /auth/challenge", PUBLIC),
    r("POST /auth/verify", PUBLIC),
    r("POST /auth/refresh", PUBLIC),
    r(
        "POST /auth/logout",
        USER,
        fresh_credential=True,
        answers={Caller.OTHER_ADMIN: 403},
        note="an API token is no session to end: 403 NOT_A_SESSION",
    ),
    r("POST /agents/{nft_token_id}/auth/verify", PUBLIC),
    r("GET /agents/{nft_token_id}/health", PUBLIC),
    r("GET /agents/{nft_token_id}/info", PUBLIC),
    # akash is refused as unavailable (503) before anything runs: no process is started
    r(
        "POST /deployments",
        OWNER,
        body={"nft_token_id": MINE, "provider": "akash"},
        refusal=403,
        note=NFT_NOTE + "; the holder's akash deployment answers 503",
    ),
    r("GET /deployments", USER),
    r("GET /deployments/{nft_token_id}", OWNER, refusal=403, note=NFT_NOTE),
    r("DELETE /deployments/{nft_token_id}", OWNER, refusal=403, note=NFT_NOTE),
    r(
        "POST /agents/{nft_token_id}/chat",
        OWNER,
        body={"message": "hello panther", "conversation_id": "{conversation}"},
        refusal=403,
        note=NFT_NOTE,
    ),
    r(
        "GET /agents/{nft_token_id}/chat/history",
        OWNER,
        query={"conversation_id": "{conversation}"},
        refusal=403,
        note=NFT_NOTE,
    ),
    r(
        "POST /agents/{nft_token_id}/chat/clear",
        OWNER,
        body={"conversation_id": "{conversation}"},
        refusal=403,
        note=NFT_NOTE,
    ),
]
