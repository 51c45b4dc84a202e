"""Google's Gemini API through the official `google-genai` SDK."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

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
    status_error,
    unreadable,
)

NO_KEY = "not-needed"  # the SDK refuses to start without a key; a proxy may hold the real one
_FINISH: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "MODEL_ARMOR": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "MALFORMED_RESPONSE": "error",
}
_TOOL_MODE = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
# Gemini reports a bad key as 400 INVALID_ARGUMENT; only the ErrorInfo reason tells it apart
_AUTH_REASONS = {"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"}

# Gemini 3 rejects a replayed function call without the opaque signature it was issued
# with, and `ToolCall` has no field to carry it; this remembers recent ones by call id so
# that an agent loop in this process replays them. A miss only costs older models nothing.
_SIGNATURES: OrderedDict[str, bytes] = OrderedDict()
_SIGNATURE_LIMIT = 4096


class GeminiProvider(Provider):
    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        secret = config.api_key.get_secret_value() if config.api_key else None
        self._scrub = Scrubber(secret)
        options: dict[str, Any] = {
            "timeout": max(1, int(config.timeout_s * 1000)),  # milliseconds
            # attempts=1 turns off the SDK's own retries, implicit ones included
            "retry_options": types.HttpRetryOptions(attempts=1),
        }
        if config.base_url:
            options["base_url"] = config.base_url
        if config.extra_headers:
            options["headers"] = dict(config.extra_headers)
        self._client = genai.Client(
            api_key=secret or NO_KEY, vertexai=False, http_options=types.HttpOptions(**options)
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        contents, system = to_gemini_contents(request.messages)
        try:
            response = await self._client.aio.models.generate_content_stream(
                model=request.model, contents=contents, config=self._config(request, system)
            )
        except (genai_errors.APIError, *TRANSPORT_ERRORS) as exc:
            raise self._error(exc, started=False) from None
        usage: Usage | None = None
        finish: FinishReason | None = None
        received = False
        calls = 0
        try:
            async for chunk in response:
                received = True
                if chunk.usage_metadata is not None:
                    meta = chunk.usage_metadata
                    usage = Usage(
                        (meta.prompt_token_count or 0) + (meta.tool_use_prompt_token_count or 0),
                        (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0),
                    )
                feedback = chunk.prompt_feedback
                if feedback is not None and feedback.block_reason:
                    finish = "content_filter"
                candidate = chunk.candidates[0] if chunk.candidates else None
                if candidate is None:
                    continue
                parts = candidate.content.parts if candidate.content else None
                for part in parts or ():
                    if part.thought:
                        continue  # thinking summaries are not the answer
                    if part.text:
                        yield TextDelta(part.text)
                    if part.function_call is not None:
                        calls += 1
                        yield ToolCallEvent(_tool_call(part))
                if candidate.finish_reason:
                    finish = _FINISH.get(_enum_name(candidate.finish_reason), "stop")
        except (genai_errors.APIError, *TRANSPORT_ERRORS) as exc:
            raise self._error(exc, started=received) from None
        except ProviderError:
            raise
        except Exception as exc:  # a chunk the SDK could not parse: no SDK error escapes
            raise unreadable(self.name, exc, self.config.base_url) from exc
        finally:
            await _close(response)
        if finish is None:
            raise incomplete_stream(self.name, self.config.base_url)
        if usage is not None:
            yield usage
        yield Finish("tool_calls" if calls and finish == "stop" else finish)

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        self._client.close()

    def _config(self, request: ChatRequest, system: str) -> types.GenerateContentConfig:
        config: dict[str, Any] = {}
        if system:
            config["system_instruction"] = system
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.max_tokens is not None:
            config["max_output_tokens"] = request.max_tokens
        if request.tools:
            config["tools"] = [
                types.Tool(function_declarations=[to_gemini_function(t) for t in request.tools])
            ]
            config["automatic_function_calling"] = types.AutomaticFunctionCallingConfig(
                disable=True
            )
            if request.tool_choice is not None:
                config["tool_config"] = types.ToolConfig(
                    function_calling_config=types.FunctionCallingConfig(
                        mode=_TOOL_MODE[request.tool_choice]
                    )
                )
        return types.GenerateContentConfig(**config)

    def _error(self, exc: BaseException, *, started: bool) -> ProviderError:
        if isinstance(exc, genai_errors.APIError):
            error = _error_object(exc.details)
            status = int(exc.code or 500)
            reasons = _detail_values(error, "reason")
            quota_ids = _detail_values(error, "quotaId")
            return status_error(
                self.name,
                status,
                self._scrub(str(exc.message or error.get("message") or exc.status or "")),
                auth=bool(reasons & _AUTH_REASONS),
                # a per-day quota will not come back within a retry; per-minute limits will
                quota=status == 429 and any("PerDay" in quota_id for quota_id in quota_ids),
                retry_after_s=_retry_delay(error),
                upstream_code=str(exc.status) if exc.status else None,
            )
        return self.transport_error(exc, started=started)


def to_gemini_contents(messages: tuple[ChatMessage, ...]) -> tuple[list[types.Content], str]:
    """Our turns as Gemini contents plus the system instruction; function responses go in
    user turns and turns of one role merge, as parallel calls need their answers together."""
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    system: list[str] = []
    contents: list[types.Content] = []
    for message in messages:
        if message.role == "system":
            system.append(message.content)
            continue
        role = "model" if message.role == "assistant" else "user"
        parts = _parts(message, names)
        if not parts:
            continue
        if contents and contents[-1].role == role and contents[-1].parts is not None:
            contents[-1].parts.extend(parts)
        else:
            contents.append(types.Content(role=role, parts=parts))
    return contents, "\n\n".join(system)


def _parts(message: ChatMessage, names: dict[str, str]) -> list[types.Part]:
    if message.role == "tool":
        name = message.name or names.get(message.tool_call_id or "", "") or "tool"
        return [
            types.Part(
                function_response=types.FunctionResponse(
                    name=name, response=_function_response(message.content)
                )
            )
        ]
    parts: list[types.Part] = []
    if message.content:
        parts.append(types.Part(text=message.content))
    for call in message.tool_calls:
        parts.append(
            types.Part(
                function_call=types.FunctionCall(name=call.name, args=call.parsed_arguments()),
                thought_signature=_SIGNATURES.get(call.id),
            )
        )
    return parts


def _function_response(content: str) -> dict[str, Any]:
    """Gemini wants an object: a JSON object result goes as is, anything else as `output`."""
    try:
        value = json.loads(content)
    except ValueError:
        return {"output": content}
    return value if isinstance(value, dict) else {"output": value}


def to_gemini_function(tool: ToolSpec) -> types.FunctionDeclaration:
    # the raw JSON Schema, not the SDK's Schema subset: tools arrive from MCP servers as is
    return types.FunctionDeclaration(
        name=tool.name,
        description=tool.description or None,
        parameters_json_schema=tool.parameters,
    )


def _tool_call(part: types.Part) -> ToolCall:
    function_call = part.function_call
    assert function_call is not None
    call_id = function_call.id or f"call_{uuid.uuid4().hex[:24]}"  # Gemini rarely gives one
    if part.thought_signature:
        _SIGNATURES[call_id] = part.thought_signature
        while len(_SIGNATURES) > _SIGNATURE_LIMIT:
            _SIGNATURES.popitem(last=False)
    return ToolCall(call_id, function_call.name or "", json.dumps(function_call.args or {}))


async def _close(response: Any) -> None:
    """Close the SDK's stream now, releasing its connection, rather than at garbage
    collection, where closing a generator that is mid-step only raises warnings."""
    close = getattr(response, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value)).upper()


def _error_object(details: object) -> dict[str, Any]:
    if isinstance(details, dict):
        inner = details.get("error")
        return inner if isinstance(inner, dict) else details
    return {}


def _detail_values(error: dict[str, Any], key: str) -> set[str]:
    """Values of `key` anywhere in the google.rpc details (ErrorInfo.reason, QuotaFailure…)."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                if name == key and isinstance(item, str):
                    found.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(error.get("details"))
    return found


def _retry_delay(error: dict[str, Any]) -> float | None:
    """google.rpc.RetryInfo's `retryDelay`, such as "30s"."""
    for value in _detail_values(error, "retryDelay"):
        try:
            return float(value.rstrip("s"))
        except ValueError:
            continue
    return None
