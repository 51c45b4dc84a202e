"""`POST /v1/chat/completions`, streaming and not, with tools and usage.

A whole answer is gathered by core (`Router.complete`, `AgentRuntime.complete`); a streamed
one is core's event stream, translated chunk by chunk. This module only translates.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from menagerie.core.llm.errors import ProviderError
from menagerie.core.llm.models import (
    Finish,
    StreamError,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
)
from menagerie.core.llm.router import CallOptions, Routed, RoutedCompletion, RoutedEvent
from menagerie.dialects.openai import agents
from menagerie.dialects.openai.agents import completion_id
from menagerie.dialects.openai.deps import PlatformDep, PrincipalDep
from menagerie.dialects.openai.envelope import ENVELOPE
from menagerie.dialects.openai.schemas import (
    AssistantOut,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    CompletionUsage,
    FunctionCallOut,
    ToolCallOut,
)
from menagerie.http.openapi import errors, sse_response
from menagerie.realtime import sse

router = APIRouter(tags=["chat"])
# `json.dumps` with separators builds a new encoder on every call; one, built once
_encode = json.JSONEncoder(separators=(",", ":")).encode
_UNFINISHED = ',"finish_reason":null,"logprobs":null}]}\n\n'  # the end of a chunk mid-answer
STREAMED = sse_response(
    "A completion; with `stream: true`, a stream of chunks ending in [DONE]", ChatCompletionChunk
)


def _tool_call(call: ToolCall) -> ToolCallOut:
    return ToolCallOut(
        id=call.id, function=FunctionCallOut(name=call.name, arguments=call.arguments)
    )


def usage_of(usage: Usage) -> CompletionUsage:
    return CompletionUsage(
        prompt_tokens=usage.input_tokens,
        completion_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
    )


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={200: STREAMED, **errors(404, 409, 502, 503, 504)},  # 409: session id taken
)
async def chat_completions(
    body: ChatCompletionRequest, platform: PlatformDep, principal: PrincipalDep, response: Response
) -> ChatCompletion | StreamingResponse:
    if agents.is_agent_model(body.model):
        return await agents.complete(body, platform, principal, response)
    options = CallOptions(
        temperature=body.temperature,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        tool_choice=body.core_tool_choice(),
        tools=body.core_tools(),
    )
    call = {
        "tenant_id": principal.tenant_id,
        "user_id": principal.user_id,
        "model_id": body.model,
        "options": options,
    }
    if not body.stream:
        whole = await platform.llm.router.complete(body.core_messages(), **call)
        return _completion(whole)
    events = aiter(platform.llm.router.stream(body.core_messages(), **call))
    # the first event says which model answers; failing before it is a plain HTTP error
    first = await anext(events)
    assert isinstance(first, Routed)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return sse.response(_sse(completion_id(), int(time.time()), first, events, include_usage))


def _completion(whole: RoutedCompletion) -> ChatCompletion:
    calls = [_tool_call(c) for c in whole.tool_calls]
    # content is null only beside tool calls, as OpenAI answers
    content = whole.text or (None if calls else "")
    return ChatCompletion(
        id=completion_id(),
        created=int(time.time()),
        model=whole.model_id,
        choices=[
            Choice(
                message=AssistantOut(content=content, tool_calls=calls or None),
                finish_reason=whole.finish_reason,
            )
        ],
        usage=usage_of(whole.usage),
    )


async def _sse(
    completion_id: str,
    created: int,
    routed: Routed,
    events: AsyncIterator[RoutedEvent],
    include_usage: bool,
) -> AsyncIterator[str]:
    # Every chunk is `{"id":…,"object":…,"created":…,"model":…,"choices":…}` (a
    # `ChatCompletionChunk`) with the same first four fields: they are encoded once and only
    # the rest per chunk, into the same text as `json.dumps` of the whole chunk.
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
                call = _tool_call(event.call).model_dump()
                yield delta + _encode({"tool_calls": [{"index": tool_index, **call}]}) + _UNFINISHED
                tool_index += 1
            elif isinstance(event, Usage):
                usage = event
            elif isinstance(event, StreamError):
                failure = ProviderError(
                    event.message,
                    provider=routed.provider,
                    reason=event.code,
                    retryable=event.retryable,
                )
                yield sse.data(ENVELOPE.payload(failure).model_dump())
                return
            elif isinstance(event, Finish):
                reason = _encode(event.reason)
                yield delta + '{},"finish_reason":' + reason + ',"logprobs":null}]}\n\n'
        if include_usage:
            yield head + '[],"usage":' + _encode(usage_of(usage).model_dump()) + "}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        await events.aclose()  # type: ignore[attr-defined]
