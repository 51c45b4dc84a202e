"""The fake LLM server itself: routes, key checks, pacing, cuts, and its controls."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tests.utils.fake_llm.anthropic_wire import AnthropicWire
from tests.utils.fake_llm.behaviours import DEFAULT_KEY, Behaviour, Provider, RecordedRequest
from tests.utils.fake_llm.gemini_wire import GeminiWire, gemini_error
from tests.utils.fake_llm.openai_wire import OpenAIWire
from tests.utils.fake_llm.wire import Answer, WireApi
from tests.utils.server import serve


class _StreamCut(Exception):
    """Raised inside a response body to drop the connection the way a crash would."""


class _QuietCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _StreamCut) and "_StreamCut" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_QuietCuts())


class FakeLLM:
    """The server and its controls. Use as `async with FakeLLM() as fake:`."""

    def __init__(
        self,
        *,
        api_key: str | None = DEFAULT_KEY,
        latency_s: float = 0.0,
        chunk_delay_s: float = 0.0,
        model_version: str | None = None,
    ) -> None:
        self.api_key = api_key  # None: any key, or none, is accepted (like Ollama)
        self.latency_s = latency_s  # before every response: a steady upstream for benchmarks
        self.chunk_delay_s = chunk_delay_s
        self.model_version = model_version
        self.default: Behaviour | None = None  # answers an empty script; None: echo
        self.script: deque[Behaviour] = deque()
        self.requests: list[RecordedRequest] = []
        self.url = ""
        self.app = self._build_app()
        self._closing = asyncio.Event()
        self._stack: contextlib.AsyncExitStack | None = None

    # controls

    def push(self, *behaviours: Behaviour) -> None:
        self.script.extend(behaviours)

    def reset(self) -> None:
        self.script.clear()
        self.requests.clear()

    @property
    def last_request(self) -> RecordedRequest:
        assert self.requests, "the fake LLM server has received no request"
        return self.requests[-1]

    def requests_to(self, provider: Provider) -> list[RecordedRequest]:
        return [r for r in self.requests if r.provider == provider]

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url  # the SDK appends /v1/messages

    @property
    def gemini_base_url(self) -> str:
        return self.url  # the SDK appends /v1beta/models/…

    async def __aenter__(self) -> FakeLLM:
        self._stack = contextlib.AsyncExitStack()
        self.url = await self._stack.enter_async_context(serve(self.app))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()  # wake handlers still sleeping so that shutdown is quick
        assert self._stack is not None
        await self._stack.aclose()

    # internals

    def _next(self) -> Behaviour:
        if self.script:
            return self.script.popleft()
        return self.default or Behaviour()

    async def _pause(self, request: Request, seconds: float) -> bool:
        """Sleep, but stop early when the client has gone; True when it has."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._closing.is_set() or await request.is_disconnected():
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=min(left, 0.05))
        return False

    async def _record(self, provider: Provider, request: Request) -> RecordedRequest:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        stream = bool(body.get("stream")) if isinstance(body, dict) else False
        if provider == "gemini":
            stream = request.url.path.endswith(":streamGenerateContent")
        recorded = RecordedRequest(
            provider=provider,
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body if isinstance(body, dict) else {},
            stream=stream,
        )
        self.requests.append(recorded)
        return recorded

    def _build_app(self) -> FastAPI:
        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

        @app.post("/v1/chat/completions")
        async def openai_chat(request: Request) -> Response:
            recorded = await self._record("openai", request)
            return await self._answer(request, recorded, OpenAIWire(self))

        @app.get("/v1/models")
        async def models(request: Request) -> Response:
            if "x-api-key" in request.headers or "anthropic-version" in request.headers:
                denied = AnthropicWire(self).check_key(request)
            else:
                denied = OpenAIWire(self).check_key(request)
            if denied is not None:
                return denied
            now = int(time.time())
            return JSONResponse(
                {
                    "object": "list",
                    "data": [
                        {"id": name, "object": "model", "created": now, "owned_by": "fake"}
                        for name in ("gpt-4o-mini", "gpt-4o")
                    ],
                }
            )

        @app.post("/v1/messages")
        async def anthropic_messages(request: Request) -> Response:
            recorded = await self._record("anthropic", request)
            return await self._answer(request, recorded, AnthropicWire(self))

        # the SDK calls v1 nowadays, older clients and the docs v1beta: both are served
        @app.post("/v1beta/models/{model_action:path}")
        @app.post("/v1/models/{model_action:path}")
        async def gemini(request: Request, model_action: str) -> Response:
            recorded = await self._record("gemini", request)
            model, _, action = model_action.rpartition(":")
            if action not in ("generateContent", "streamGenerateContent"):
                return gemini_error(404, "NOT_FOUND", f"Method {action!r} not found.")
            return await self._answer(request, recorded, GeminiWire(self, model))

        return app

    async def _answer(self, request: Request, recorded: RecordedRequest, api: WireApi) -> Response:
        denied = api.check_key(request)
        if denied is not None:
            return denied
        invalid = api.check_body(recorded.body)
        if invalid is not None:
            return invalid
        behaviour = self._next()
        if await self._pause(request, self.latency_s + behaviour.delay_s):
            return Response(status_code=499)  # nobody is listening any more
        if behaviour.error is not None:
            return api.error(behaviour)
        answer = Answer.build(behaviour, recorded.body, api)
        delay = self.chunk_delay_s if behaviour.chunk_delay_s is None else behaviour.chunk_delay_s
        if recorded.stream:
            events = api.stream(answer)
            if behaviour.fail_after is not None:
                events = itertools.chain(
                    itertools.islice(events, behaviour.fail_after), [api.stream_error()]
                )
            elif behaviour.garble_after is not None:
                events = itertools.chain(
                    itertools.islice(events, behaviour.garble_after), [api.garbage()]
                )
            return StreamingResponse(
                _paced(events, delay, behaviour.cut_after),
                media_type="text/event-stream",
                headers=api.headers(),
            )
        body = json.dumps(api.whole(answer)).encode()
        if behaviour.cut_after is not None:
            return StreamingResponse(
                _truncated(body, behaviour.cut_after),
                media_type="application/json",
                headers=api.headers(),
            )
        return Response(body, media_type="application/json", headers=api.headers())


async def _paced(
    events: Iterator[bytes], delay_s: float, cut_after: int | None
) -> AsyncIterator[bytes]:
    for sent, event in enumerate(events):
        if cut_after is not None and sent >= cut_after:
            raise _StreamCut("the fake LLM server dropped the stream on purpose")
        if delay_s and sent:
            await asyncio.sleep(delay_s)
        yield event


async def _truncated(body: bytes, cut_after: int) -> AsyncIterator[bytes]:
    yield body[: min(cut_after, len(body) // 2)]
    raise _StreamCut("the fake LLM server dropped the response on purpose")


@contextlib.asynccontextmanager
async def fake_llm(**options: Any) -> AsyncIterator[FakeLLM]:
    async with FakeLLM(**options) as server:
        yield server
