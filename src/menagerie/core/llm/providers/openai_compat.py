"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, LM Studio, Together, …).

The adapter speaks the wire protocol itself, over aiohttp: one POST to `/chat/completions`
with `stream: true`, its server-sent events read into plain dicts. On the gateway's hot path
the official SDK's request machinery (typed options, header and URL building, its httpx
client) cost about 0.8-1.0 ms of CPU per call on the 2-core development VM, against
0.15-0.2 ms for the same exchange through aiohttp (bench/README.md, "Where the gateway's
time goes"). The SDK stays the reference: the adapter sends what its `post` sent (bearer
auth, JSON body, the configured headers) and reads errors as it does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi

from menagerie import __version__
from menagerie.core.llm.errors import ProviderError
from menagerie.core.llm.models import (
    ChatMessage,
    ChatRequest,
    Finish,
    FinishReason,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolSpec,
    Usage,
)
from menagerie.core.llm.providers.base import Provider, ProviderConfig
from menagerie.core.llm.providers.upstream import (
    TRANSPORT_ERRORS,
    Scrubber,
    incomplete_stream,
    retry_after,
    status_error,
    unreadable,
)

OPENAI_BASE_URL = "https://api.openai.com/v1"
_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
_STREAM_ERROR = "An error occurred during streaming"  # the SDK's words for an unnamed one
_DRAIN_S = 0.1  # after `[DONE]`, how long the rest of the body may take (as the SDK)
_ERROR_BODY_LIMIT = 64 * 1024  # an error page is read this far, never whole
_MAX_CONNECTIONS = 1000  # the SDK's own pool limit


class OpenAICompatProvider(Provider):
    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        secret = config.api_key.get_secret_value() if config.api_key else None
        self._scrub = Scrubber(secret)
        base = (config.base_url or OPENAI_BASE_URL).rstrip("/")
        self._url = base + "/chat/completions"
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "User-Agent": f"menagerie/{__version__}",
            **config.extra_headers,
        }
        if secret:  # local servers (Ollama, vLLM) take no key
            self._headers["Authorization"] = f"Bearer {secret}"
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=config.timeout_s,
            sock_connect=config.timeout_s,
            sock_read=config.timeout_s,
        )
        # OpenAI's own newer models refuse `max_tokens`; most compatible servers know only it
        self._max_tokens_field = (
            "max_completion_tokens" if "api.openai.com" in base else "max_tokens"
        )
        self._proxy = env_proxy(self._url)  # HTTP(S)_PROXY and NO_PROXY, as the SDK honoured
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> aiohttp.ClientSession:
        """The connection pool of the running loop (a session cannot cross event loops)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            connector = aiohttp.TCPConnector(
                limit=_MAX_CONNECTIONS, ssl=ssl.create_default_context(cafile=certifi.where())
            )
            # not trust_env: with it aiohttp reads ~/.netrc in a worker thread on every
            # request; the proxy the environment names is looked up once, in __init__
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
            self._session_loop = loop
        return self._session

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        body = json.dumps(self._params(request)).encode()
        try:
            http = await self._client().post(
                self._url, data=body, headers=self._headers, proxy=self._proxy
            )
        except TRANSPORT_ERRORS as exc:
            raise self.transport_error(exc, started=False) from None
        if http.status >= 300:
            try:
                raise await self._status(http)
            finally:
                http.release()
        events = _SSEEvents()
        calls = _CallAssembler()
        usage: Usage | None = None
        finish: str | None = None
        received = done = drain = False
        chunks = http.content.iter_any()
        try:
            while not done:
                raw = await anext(chunks, None)
                if raw is None:
                    done = True
                batch = events.end() if raw is None else events.feed(raw)
                for data in batch:
                    if data.startswith(b"[DONE]"):
                        done = drain = True
                        break
                    chunk = json.loads(data.decode())
                    error = chunk.get("error")
                    if error:
                        raise self._stream_error(error)
                    received = True
                    chunk_usage = chunk.get("usage")
                    if chunk_usage is not None:
                        usage = Usage(
                            chunk_usage.get("prompt_tokens") or 0,
                            chunk_usage.get("completion_tokens") or 0,
                        )
                    for choice in chunk.get("choices"):  # none at all: unreadable, as ever
                        if not isinstance(choice, dict) or choice.get("index") != 0:
                            continue  # we never ask for n > 1
                        delta = choice.get("delta")
                        if delta:
                            content = delta.get("content")
                            if content:
                                yield TextDelta(content)
                            refusal = delta.get("refusal")
                            if refusal:
                                yield TextDelta(refusal)
                            for fragment in delta.get("tool_calls") or ():
                                calls.add(fragment)
                        reason = choice.get("finish_reason")
                        if reason and finish is None:
                            finish = reason
                            for call in calls.finished():
                                yield ToolCallEvent(call)
        except TRANSPORT_ERRORS as exc:
            raise self.transport_error(exc, started=received) from None
        except ProviderError:
            raise
        except Exception as exc:  # a chunk that is not JSON, or not a chunk: no error escapes
            raise unreadable(self.name, exc, self.config.base_url) from exc
        finally:
            if drain:
                await _drain(http)  # the rest of the body, so the connection can be reused
            http.release()
        if finish is None:
            raise incomplete_stream(self.name, self.config.base_url)
        if usage is not None:
            yield usage
        reason = _FINISH.get(finish, "stop")
        yield Finish("tool_calls" if calls.count and reason == "stop" else reason)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            with contextlib.suppress(RuntimeError):  # its loop is gone: nothing left to free
                await self._session.close()
        self._session = None

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": request.model,
            "messages": [to_openai_message(m) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            params["tools"] = [to_openai_tool(t) for t in request.tools]
            if request.tool_choice is not None:
                params["tool_choice"] = request.tool_choice
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params[self._max_tokens_field] = request.max_tokens
        return params

    async def _status(self, http: aiohttp.ClientResponse) -> ProviderError:
        """The error for a non-2xx answer, from its body as the SDK reads it."""
        try:
            text = (await http.content.read(_ERROR_BODY_LIMIT)).decode(errors="replace")
        except TRANSPORT_ERRORS:
            text = ""
        try:
            body: object = json.loads(text)
        except ValueError:
            body = None
        error = _error_object(body)
        code = str(error.get("code") or error.get("type") or "") or None
        message = error.get("message") or text or http.reason or ""
        return status_error(
            self.name,
            http.status,
            self._scrub(str(message)),
            quota=code == "insufficient_quota" or error.get("type") == "insufficient_quota",
            retry_after_s=retry_after(http.headers),
            upstream_code=code,
        )

    def _stream_error(self, body: object, fallback: str | None = None) -> ProviderError:
        """An `error` object sent inside the stream itself: the upstream failed midway."""
        if fallback is None:  # the message the SDK would have given its `APIError`
            message = body.get("message") if isinstance(body, dict) else None
            fallback = message if message and isinstance(message, str) else _STREAM_ERROR
        error = _error_object(body)
        code = str(error.get("code") or error.get("type") or "") or None
        return status_error(
            self.name,
            429 if code in ("rate_limit_exceeded", "insufficient_quota") else 500,
            self._scrub(str(error.get("message") or fallback)),
            quota=code == "insufficient_quota",
            upstream_code=code,
        )


def env_proxy(url: str) -> str | None:
    """The proxy `HTTP_PROXY`/`HTTPS_PROXY` name for this URL, unless `NO_PROXY` exempts it."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    if parts.hostname and urllib.request.proxy_bypass_environment(parts.hostname, proxies):
        return None
    return proxies.get(parts.scheme) or proxies.get("all")


def to_openai_message(message: ChatMessage) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id or "",
            "content": message.content,
        }
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments or "{}"},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def to_openai_tool(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _error_object(body: object) -> dict[str, Any]:
    """OpenAI's `{"error": {...}}`; the SDK sometimes hands over the inner object already."""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            return inner
        return body
    return {}


@dataclass
class _Slot:
    id: str
    name: str
    arguments: list[str] = field(default_factory=list)


class _CallAssembler:
    """Gathers tool-call fragments by index until the model finishes.

    A new id on an index that already holds a call starts another call: some compatible
    servers send every call whole with index 0.
    """

    def __init__(self) -> None:
        self._slots: list[_Slot] = []
        self._by_index: dict[int, _Slot] = {}
        self._emitted = 0

    @property
    def count(self) -> int:
        return len(self._slots)

    def add(self, fragment: dict[str, Any]) -> None:
        index = fragment.get("index")
        if index is None:
            index = len(self._slots)
        call_id = fragment.get("id")
        function = fragment.get("function")
        slot = self._by_index.get(index)
        if slot is None or (call_id and slot.id and call_id != slot.id):
            slot = _Slot(call_id or "", "")
            self._slots.append(slot)
            self._by_index[index] = slot
        if call_id and not slot.id:
            slot.id = call_id
        if function is not None:
            name = function.get("name")
            if name:
                slot.name = name
            arguments = function.get("arguments")
            if arguments:
                slot.arguments.append(arguments)

    def finished(self) -> list[ToolCall]:
        calls = [
            ToolCall(
                slot.id or f"call_{uuid.uuid4().hex[:24]}",
                slot.name,
                "".join(slot.arguments) or "{}",
            )
            for slot in self._slots[self._emitted :]
        ]
        self._emitted = len(self._slots)
        return calls


class _SSEEvents:
    """Server-sent events out of the raw body, read as the SDK's own decoder reads them: lines
    end with LF, CRLF or CR; a blank line ends an event; `data` lines join with LF; comments
    and other fields are skipped (an event made only of them still counts, as for the SDK).
    `feed` returns the data of every event the bytes given complete, `end` those the end of
    the body completes."""

    def __init__(self) -> None:
        self._partial: list[bytes] = []  # the start of a line that has not ended yet
        self._data: list[bytes] = []
        self._event = False  # a non-empty `event` field last, in this event
        self._retry = False  # a valid `retry` field in this event
        self._last_id = False  # an `id` field: the SDK keeps it across events

    def feed(self, raw: bytes) -> list[bytes]:
        if b"\n" not in raw and b"\r" not in raw:
            if raw:
                self._partial.append(raw)
            return []
        if self._partial:
            self._partial.append(raw)
            raw = b"".join(self._partial)
            self._partial.clear()
        if b"\r" in raw:
            if raw.endswith(b"\r"):  # perhaps half of a CRLF: wait for the next byte
                self._partial.append(raw[-1:])
                raw = raw[:-1]
            raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = raw.split(b"\n")
        tail = lines.pop()
        if tail:
            self._partial.insert(0, tail)
        out: list[bytes] = []
        for line in lines:
            if not line:
                if self._data or self._event or self._retry or self._last_id:
                    out.append(b"\n".join(self._data))
                    self._data = []
                    self._event = self._retry = False
            elif line.startswith(b"data:"):
                self._data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif not line.startswith(b":"):
                self._field(line)
        return out

    def end(self) -> list[bytes]:
        """The body ended: so does its last line, if one was unfinished."""
        return self.feed(b"\n") if self._partial else []

    def _field(self, line: bytes) -> None:
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = bool(value)
        elif name == b"id":
            if b"\0" not in value:
                self._last_id = bool(value)
        elif name == b"retry":
            with contextlib.suppress(ValueError):
                int(value)
                self._retry = True


async def _drain(http: aiohttp.ClientResponse) -> None:
    """Read and drop what follows `[DONE]` (usually just the end of the body)."""
    # cleanup must not turn a complete answer into an error
    with contextlib.suppress(TimeoutError, *TRANSPORT_ERRORS):
        async with asyncio.timeout(_DRAIN_S):
            while await http.content.readany():
                continue
