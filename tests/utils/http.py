"""Small helpers the HTTP tests share."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterable
from typing import TypeVar

T = TypeVar("T")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def collect(items: AsyncIterable[T]) -> list[T]:
    return [item async for item in items]
