"""Opaque identifiers with a type prefix (`sess_…`, `msg_…`)."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str, length: int = 20) -> str:
    """Return `prefix_` followed by `length` random base-36 characters (~103 bits at 20)."""
    # one read of the system's randomness, not one per character: ids are made on every call
    space = 36**length
    value = int.from_bytes(secrets.token_bytes(length * 6 // 8 + 2)) % space
    body = []
    for _ in range(length):
        value, digit = divmod(value, 36)
        body.append(_ALPHABET[digit])
    return f"{prefix}_{''.join(body)}"


def request_id() -> str:
    return new_id("req", 16)
