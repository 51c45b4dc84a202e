"""Integer user ids, for the APIs that number their users (Crazy Gary shows `"id": 1`).

A user's number is a pure function of its opaque id, so it never changes, needs no counter
that concurrent sign-ups would race on, and is known even for principals without a row (the
master key, dev mode). 48 bits keep it exact in JavaScript (below 2**53); the column's unique
index turns a collision (odds of about 1 in 500 over a million users) into a refused sign-up,
which succeeds when retried because every attempt draws a new id.
"""

from __future__ import annotations

import hashlib

BITS = 48


def user_number(user_id: str) -> int:
    digest = hashlib.sha256(user_id.encode()).digest()
    return int.from_bytes(digest[: BITS // 8], "big") or 1
