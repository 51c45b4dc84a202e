"""`agent:<name>` models on `/v1/chat/completions`: the agent loop in OpenAI's format.

The agent keeps its own session (history, memories, tools run on the server), so only the
newest user message of the request is answered. The session id comes back in the
`X-Menagerie-Session-Id` header; sending it as `metadata.session_id` continues the session.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import JSONResponse, StreamingResponse

from menagerie.core.agents.events import AgentEvent, TextChunk, TurnDone, TurnStarted, is_retryable
from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.errors import MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.dialects.openai.schemas import ChatCompletionRequest
from menagerie.platform import Platform
from menagerie.realtime import sse

PREFIX = "agent:"
SESSION_HEADER = "X-Menagerie-Session-Id"


def is_agent_model(model: str) -> bool:
    return model.startswith(PREFIX)


def agent_models(platform: Platform) -> list[str]:
    return [PREFIX + name for name in platform.agents.catalog.names()]


async def complete(
    body: ChatCompletionRequest, platform: Platform, principal: Principal
) -> JSONResponse | StreamingResponse:
    session_id = (body.metadata or {}).get("session_id")
    events = platform.agents.run(
        principal,
        TurnRequest(
            agent=body.model.removeprefix(PREFIX),
            message=body.last_user_text(),
            session_id=session_id,
        ),
    )
    started, rest = await sse.primed(events)
    assert isinstance(started, TurnStarted)
    headers = {SESSION_HEADER: started.session_id}
    completion_id = new_id("chatcmpl", 24).replace("_", "-")
    created = int(time.time())
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        response = sse.response(_chunks(completion_id, created, body.model, rest, include_usage))
        response.headers.update(headers)
        return response
    done = None
    async for event in rest:
        if isinstance(event, TurnDone):
            done = event
    assert done is not None
    return JSONResponse(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": done.message.content},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": _usage(done),
            "system_fingerprint": None,
        },
        headers=headers,
    )


def _usage(done: TurnDone) -> dict[str, int]:
    return {
        "prompt_tokens": done.input_tokens,
        "completion_tokens": done.output_tokens,
        "total_tokens": done.input_tokens + done.output_tokens,
    }


async def _chunks(
    completion_id: str,
    created: int,
    model: str,
    events: AsyncIterator[AgentEvent],
    include_usage: bool,
) -> AsyncIterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return sse.data(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                ],
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    done: TurnDone | None = None
    try:
        async for event in events:
            if isinstance(event, TextChunk):
                yield chunk({"content": event.text})
            elif isinstance(event, TurnDone):
                done = event
    except MenagerieError as error:
        kind = "server_error" if is_retryable(error) else "invalid_request_error"
        yield sse.data({"error": {"message": error.message, "type": kind, "code": error.reason}})
        return
    yield chunk({}, "stop")
    if include_usage and done is not None:
        yield sse.data(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": _usage(done),
            }
        )
    yield sse.data("[DONE]")
