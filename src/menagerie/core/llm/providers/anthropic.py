"""Anthropic's Messages API through the official `anthropic` SDK, streamed as raw events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic

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

# the Messages API requires max_tokens; this is enough for a long answer and still bounded
DEFAULT_MAX_TOKENS = 4096
NO_KEY = "not-needed"  # a proxy in front of Anthropic may hold the key itself
_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_TOOL_CHOICE = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}
# error types whose HTTP status alone would be misread (a stream error arrives with 200)
_TYPE_STATUS = {
    "overloaded_error": 529,
    "api_error": 500,
    "timeout_error": 504,
    "rate_limit_error": 429,
    "authentication_error": 401,
    "permission_error": 403,
    "billing_error": 402,
    "not_found_error": 404,
    "invalid_request_error": 400,
    "request_too_large": 413,
}


class AnthropicProvider(Provider):
    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        secret = config.api_key.get_secret_value() if config.api_key else None
        self._scrub = Scrubber(secret)
        self._client = anthropic.AsyncAnthropic(
            api_key=secret or NO_KEY,
            base_url=config.base_url,
            timeout=config.timeout_s,
            max_retries=0,  # the router retries, with its own budget and fallbacks
            default_headers=config.extra_headers or None,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        try:
            response = await self._client.messages.create(**self._params(request))
        except anthropic.APIError as exc:
            raise self._error(exc, started=False) from None
        input_tokens = output_tokens = 0
        tool_blocks: dict[int, tuple[str, str, list[str]]] = {}
        stop_reason: str | None = None
        stopped = received = False
        calls = 0
        try:
            async for event in response:
                received = True
                kind = event.type
                if kind == "message_start":
                    usage = event.message.usage
                    input_tokens = _input_tokens(usage)
                    output_tokens = usage.output_tokens or 0
                elif kind == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        tool_blocks[event.index] = (block.id, block.name, [])
                    elif block.type == "text" and block.text:
                        yield TextDelta(block.text)
                elif kind == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta" and delta.text:
                        yield TextDelta(delta.text)
                    elif delta.type == "input_json_delta" and event.index in tool_blocks:
                        tool_blocks[event.index][2].append(delta.partial_json)
                elif kind == "content_block_stop" and event.index in tool_blocks:
                    call_id, name, parts = tool_blocks.pop(event.index)
                    calls += 1
                    yield ToolCallEvent(ToolCall(call_id, name, "".join(parts) or "{}"))
                elif kind == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    if event.usage is not None:
                        output_tokens = event.usage.output_tokens or output_tokens
                        if getattr(event.usage, "input_tokens", None):
                            input_tokens = _input_tokens(event.usage)
                elif kind == "message_stop":
                    stopped = True
        except (anthropic.APIError, *TRANSPORT_ERRORS) as exc:
            raise self._error(exc, started=received) from None
        except ProviderError:
            raise
        except Exception as exc:  # a chunk the SDK could not parse: no SDK error escapes
            raise unreadable(self.name, exc, self.config.base_url) from exc
        finally:
            await response.close()
        if not stopped:
            raise incomplete_stream(self.name, self.config.base_url)
        yield Usage(input_tokens, output_tokens)
        reason = _FINISH.get(stop_reason or "end_turn", "stop")
        yield Finish("tool_calls" if calls and reason == "stop" else reason)

    async def aclose(self) -> None:
        await self._client.close()

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        params: dict[str, Any] = {
            "model": request.model,
            "messages": to_anthropic_messages(request.messages),
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        if system:
            params["system"] = system
        if request.tools:
            params["tools"] = [to_anthropic_tool(t) for t in request.tools]
            if request.tool_choice is not None:
                params["tool_choice"] = _TOOL_CHOICE[request.tool_choice]
        # no `temperature`: the Messages API dropped sampling parameters (SDK 2.x has none),
        # so a request's temperature has no Anthropic equivalent and is left out
        return params

    def _error(self, exc: BaseException, *, started: bool) -> ProviderError:
        if isinstance(exc, anthropic.APIStatusError):
            kind = exc.type or _body_error(exc.body).get("type")
            message = exc.api_message or _body_error(exc.body).get("message") or exc.message
            status = exc.status_code
            if status < 400:  # an `error` event inside a stream that began with 200
                status = _TYPE_STATUS.get(str(kind), 500)
            quota = kind == "billing_error" or "credit balance" in str(message).lower()
            return status_error(
                self.name,
                status,
                self._scrub(str(message)),
                quota=quota,
                retry_after_s=retry_after(exc.response.headers),
                upstream_code=str(kind) if kind else None,
            )
        return self.transport_error(exc, started=started)


def to_anthropic_messages(messages: tuple[ChatMessage, ...]) -> list[dict[str, Any]]:
    """Our turns as Anthropic's: tool results ride in user turns, and turns of one role merge
    so that several tool results answer one assistant turn together."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return turns


def _blocks(message: ChatMessage) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id or "",
                "content": message.content,
            }
        ]
    blocks: list[dict[str, Any]] = []
    if message.content:  # Anthropic refuses empty text blocks
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.parsed_arguments()}
        )
    return blocks


def to_anthropic_tool(tool: ToolSpec) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": tool.name, "input_schema": tool.parameters}
    if tool.description:
        spec["description"] = tool.description
    return spec


def _input_tokens(usage: Any) -> int:
    # cached prompt tokens are billed apart but are still input the model read
    return (
        (getattr(usage, "input_tokens", 0) or 0)
        + (getattr(usage, "cache_creation_input_tokens", 0) or 0)
        + (getattr(usage, "cache_read_input_tokens", 0) or 0)
    )


def _body_error(body: object) -> dict[str, Any]:
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            return inner
    return {}
