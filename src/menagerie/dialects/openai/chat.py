"""`POST /v1/chat/completions`, streaming and not, with tools and usage."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, StreamingResponse

from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.llm.errors import ProviderUnavailable
from menagerie.core.llm.models import (
    Finish,
    StreamError,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
)
from menagerie.core.llm.router import CallOptions, Routed, RoutedEvent
from menagerie.dialects.openai import agents
from menagerie.dialects.openai.schemas import ChatCompletionRequest
from menagerie.http.deps import get_platform, require_principal
from menagerie.platform import Platform

router = APIRouter(tags=["chat"])
# `json.dumps` with separators builds a new encoder on every call; one, built once
_encode = json.JSONEncoder(separators=(",", ":")).encode
_UNFINISHED = ',"finish_reason":null,"logprobs":null}]}\n\n'  # the end of a chunk mid-answer
PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]


def _tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def _usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, platform: PlatformDep, principal: PrincipalDep
) -> JSONResponse | StreamingResponse:
    if agents.is_agent_model(body.model):
        return await agents.complete(body, platform, principal)
    options = CallOptions(
        temperature=body.temperature,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        tool_choice=body.core_tool_choice(),
        tools=body.core_tools(),
    )
    events = aiter(
        platform.llm.router.stream(
            body.core_messages(),
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            model_id=body.model,
            options=options,
        )
    )
    # the first event says which model answers; failing before it is a plain HTTP error
    first = await anext(events)
    assert isinstance(first, Routed)
    completion_id = new_id("chatcmpl", 24).replace("_", "-")
    created = int(time.time())
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            _sse(completion_id, created, first, events, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return JSONResponse(await _whole(completion_id, created, first, events))


async def _whole(
    completion_id: str, created: int, routed: Routed, events: AsyncIterator[RoutedEvent]
) -> dict[str, Any]:
    text: list[str] = []
    calls: list[ToolCall] = []
    usage = Usage()
    reason = "stop"
    async for event in events:
        if isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, ToolCallEvent):
            calls.append(event.call)
        elif isinstance(event, Usage):
            usage = event
        elif isinstance(event, Finish):
            reason = event.reason
        elif isinstance(event, StreamError):
            raise ProviderUnavailable(
                f"the answer from {routed.model_id} broke off: {event.message}",
                provider=routed.provider,
            )
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
    if calls:
        message["tool_calls"] = [_tool_call(c) for c in calls]
    elif message["content"] is None:
        message["content"] = ""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": routed.model_id,
        "choices": [{"index": 0, "message": message, "finish_reason": reason, "logprobs": None}],
        "usage": _usage(usage),
        "system_fingerprint": None,
    }


async def _sse(
    completion_id: str,
    created: int,
    routed: Routed,
    events: AsyncIterator[RoutedEvent],
    include_usage: bool,
) -> AsyncIterator[str]:
    # Every chunk is `{"id":…,"object":…,"created":…,"model":…,"choices":…}` with the same
    # first four fields: they are encoded once and only the rest per chunk, into the same
    # text as `json.dumps` of the whole chunk with compact separators.
    head = (
        f'data: {{"id":{_encode(completion_id)},"object":"chat.completion.chunk",'
        f'"created":{_encode(created)},"model":{_encode(routed.model_id)},"choices":'
    )
    delta = head + '[{"index":0,"delta":'
    usage = Usage()
    tool_index = 0
    try:
        yield delta + '{"role":"assistant","content":""}' + _UNFINISHED
        async for event in events:
            if isinstance(event, TextDelta):
                yield delta + '{"content":' + _encode(event.text) + "}" + _UNFINISHED
            elif isinstance(event, ToolCallEvent):
                call = {"tool_calls": [{"index": tool_index, **_tool_call(event.call)}]}
                yield delta + _encode(call) + _UNFINISHED
                tool_index += 1
            elif isinstance(event, Usage):
                usage = event
            elif isinstance(event, StreamError):
                error = {"message": event.message, "type": "server_error", "code": event.code}
                yield f"data: {json.dumps({'error': error})}\n\n"
                return
            elif isinstance(event, Finish):
                reason = _encode(event.reason)
                yield delta + '{},"finish_reason":' + reason + ',"logprobs":null}]}\n\n'
        if include_usage:
            yield head + '[],"usage":' + _encode(_usage(usage)) + "}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        await events.aclose()  # type: ignore[attr-defined]
