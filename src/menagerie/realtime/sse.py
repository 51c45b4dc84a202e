"""Server-Sent Events: one encoder, one response type, for every dialect that streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from starlette.responses import StreamingResponse

T = TypeVar("T")

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def data(payload: Any) -> str:
    """One `data:` event holding `payload` as compact JSON (a str is sent as it is)."""
    text = payload if isinstance(payload, str) else _encode(payload)
    return f"data: {text}\n\n"


def event(name: str, payload: Any) -> str:
    """A named event (`event: name`), for clients that dispatch on the event type."""
    return f"event: {name}\n{data(payload)}"


def response(chunks: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/event-stream", headers=HEADERS)


async def primed(events: AsyncIterator[T]) -> tuple[T, AsyncIterator[T]]:
    """Wait for the first event before answering, so that anything refusing the request
    (not found, too large, over quota) is still a plain HTTP error with its status code."""
    iterator = aiter(events)
    first = await anext(iterator)
    return first, iterator


async def chain(first: T, rest: AsyncIterator[T]) -> AsyncIterator[T]:
    yield first
    async for item in rest:
        yield item


def encode_all(events: AsyncIterator[T], encode: Callable[[T], str | None]) -> AsyncIterator[str]:
    async def chunks() -> AsyncIterator[str]:
        async for item in events:
            chunk = encode(item)
            if chunk:
                yield chunk

    return chunks()
