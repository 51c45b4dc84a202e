"""What a test asks the fake LLM server for: scripted behaviours, and what it recorded."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

Provider = Literal["openai", "anthropic", "gemini"]
ErrorKind = Literal["auth", "quota", "rate_limit", "server", "overloaded", "status"]

DEFAULT_KEY = "sk-fake-0123456789abcdef"
CUT_TEXT = " ".join(f"word{n}" for n in range(1, 41))  # long enough to cut anywhere


@dataclass(frozen=True)
class FakeToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None  # generated in the provider's own style when not given


@dataclass(frozen=True)
class Behaviour:
    """One answer. With neither `text` nor `tool_calls` the server echoes the user."""

    text: str | None = None
    tool_calls: tuple[FakeToolCall, ...] = ()
    error: ErrorKind | None = None
    status: int | None = None  # for error="status": the HTTP status to answer
    code: str | None = None  # the provider's machine code, where its error shape has one
    message: str | None = None
    retry_after_s: float | None = None
    delay_s: float = 0.0  # before the response starts
    chunk_delay_s: float | None = None  # between stream chunks; None: the server's default
    cut_after: int | None = None  # drop the connection after this many chunks (or bytes)
    fail_after: int | None = None  # stream: after this many chunks, an in-stream error event
    garble_after: int | None = None  # stream: after this many chunks, one that is not JSON
    usage: tuple[int, int] | None = None  # (input, output) tokens; None: estimated
    finish: Literal["stop", "length"] = "stop"


def reply(text: str, **options: Any) -> Behaviour:
    return Behaviour(text=text, **options)


def tool_call(
    name: str,
    arguments: dict[str, Any] | None = None,
    *,
    text: str | None = None,
    id: str | None = None,
    **options: Any,
) -> Behaviour:
    return Behaviour(text=text, tool_calls=(FakeToolCall(name, arguments or {}, id),), **options)


def tool_calls(*calls: FakeToolCall, text: str | None = None, **options: Any) -> Behaviour:
    return Behaviour(text=text, tool_calls=calls, **options)


def error(status: int, *, code: str | None = None, message: str | None = None) -> Behaviour:
    """An HTTP error with this status, in the shape the provider uses for it."""
    return Behaviour(error="status", status=status, code=code, message=message)


def invalid_key() -> Behaviour:
    """What each provider answers for a key it does not know."""
    return Behaviour(error="auth")


def quota_exhausted() -> Behaviour:
    """Out of credit: OpenAI's 429 `insufficient_quota`, Anthropic's 400 'credit balance is
    too low', Gemini's 429 RESOURCE_EXHAUSTED on a per-day quota."""
    return Behaviour(error="quota")


def rate_limited(retry_after_s: float = 1.0) -> Behaviour:
    return Behaviour(error="rate_limit", retry_after_s=retry_after_s)


def server_error(status: int = 500) -> Behaviour:
    return Behaviour(error="server", status=status)


def overloaded() -> Behaviour:
    """Anthropic's 529 `overloaded_error`; 503 from the others."""
    return Behaviour(error="overloaded")


def stream_error(after: int, text: str = CUT_TEXT) -> Behaviour:
    """A stream that reports an upstream failure in-band after `after` chunks, as Anthropic
    does with `event: error` (overloaded) and OpenAI with a `data: {"error": …}` line."""
    return Behaviour(text=text, fail_after=after)


def garbled(after: int, text: str = CUT_TEXT) -> Behaviour:
    """A stream with a chunk that is not JSON after `after` good ones (a broken proxy)."""
    return Behaviour(text=text, garble_after=after)


def slow(delay_s: float, text: str | None = None) -> Behaviour:
    return Behaviour(text=text, delay_s=delay_s)


def cut(after: int, text: str = CUT_TEXT) -> Behaviour:
    """A stream whose connection drops after `after` chunks, before it finishes."""
    return Behaviour(text=text, cut_after=after)


@dataclass(frozen=True)
class RecordedRequest:
    provider: Provider
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]
    stream: bool


def with_behaviour(behaviour: Behaviour, **changes: Any) -> Behaviour:
    """A copy of `behaviour` with some fields changed (a delay added to a tool call …)."""
    return replace(behaviour, **changes)
