"""`agent:<name>` models on `/v1/chat/completions`: the agent loop in OpenAI's format.

The agent keeps its own session (history, memories, tools run on the server), so only the
newest user message of the request is answered. The session id comes back in the
`X-Menagerie-Session-Id` header; sending it as `metadata.session_id` continues the session.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import Response
from fastapi.responses import StreamingResponse

from menagerie.core.agents.events import AgentEvent, TextChunk, TurnDone, TurnStarted
from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.errors import MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.dialects.openai.envelope import ENVELOPE
from menagerie.dialects.openai.schemas import (
    AssistantOut,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    CompletionUsage,
    Delta,
)
from menagerie.platform import Platform
from menagerie.realtime import sse

PREFIX = "agent:"
SESSION_HEADER = "X-Menagerie-Session-Id"


def is_agent_model(model: str) -> bool:
    return model.startswith(PREFIX)


def agent_models(platform: Platform) -> list[str]:
    return [PREFIX + name for name in platform.agents.catalog.names()]


def completion_id() -> str:
    return new_id("chatcmpl", 24).replace("_", "-")


def _usage(done: TurnDone) -> CompletionUsage:
    return CompletionUsage(
        prompt_tokens=done.input_tokens,
        completion_tokens=done.output_tokens,
        total_tokens=done.input_tokens + done.output_tokens,
    )


async def complete(
    body: ChatCompletionRequest, platform: Platform, principal: Principal, response: Response
) -> ChatCompletion | StreamingResponse:
    turn = TurnRequest(
        agent=body.model.removeprefix(PREFIX),
        message=body.last_user_text(),
        session_id=(body.metadata or {}).get("session_id"),
    )
    created = int(time.time())
    if not body.stream:
        done = await platform.agents.complete(principal, turn)
        answer = ChatCompletion(
            id=completion_id(),
            created=created,
            model=body.model,
            choices=[
                Choice(message=AssistantOut(content=done.message.content), finish_reason="stop")
            ],
            usage=_usage(done),
        )
        response.headers[SESSION_HEADER] = done.message.session_id
        return answer
    started, rest = await sse.primed(platform.agents.run(principal, turn))
    assert isinstance(started, TurnStarted)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    chunk = ChatCompletionChunk(id=completion_id(), created=created, model=body.model, choices=[])
    stream = sse.response(_chunks(chunk, rest, include_usage))
    stream.headers[SESSION_HEADER] = started.session_id
    return stream


async def _chunks(
    head: ChatCompletionChunk, events: AsyncIterator[AgentEvent], include_usage: bool
) -> AsyncIterator[str]:
    def chunk(delta: Delta, finish: Literal["stop"] | None = None) -> str:
        choice = ChunkChoice(delta=delta, finish_reason=finish)
        payload = head.model_copy(update={"choices": [choice]}).model_dump(exclude={"usage"})
        payload["choices"][0]["delta"] = delta.model_dump(exclude_none=True)
        return sse.data(payload)

    yield chunk(Delta(role="assistant", content=""))
    done: TurnDone | None = None
    try:
        async for event in events:
            if isinstance(event, TextChunk):
                yield chunk(Delta(content=event.text))
            elif isinstance(event, TurnDone):
                done = event
    except MenagerieError as error:
        yield sse.data(ENVELOPE.payload(error).model_dump())
        return
    yield chunk(Delta(), "stop")
    if include_usage and done is not None:
        last = head.model_copy(update={"choices": [], "usage": _usage(done)})
        yield sse.data(last.model_dump())
    yield sse.data("[DONE]")
