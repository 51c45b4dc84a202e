"""Anthropic's Messages wire format: JSON, the named-event SSE stream, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from tests.utils.fake_llm.behaviours import Behaviour
from tests.utils.fake_llm.wire import Answer, WireApi, fragments, pieces, rand, sse, text_of

if TYPE_CHECKING:
    from tests.utils.fake_llm.server import FakeLLM

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


class AnthropicWire(WireApi):
    def __init__(self, server: FakeLLM) -> None:
        super().__init__(server)
        self.id = f"msg_01{rand(22)}"
        self.model = "claude-haiku-4-5"

    def check_key(self, request: Request) -> Response | None:
        expected = self.server.api_key
        if expected is None:
            return None
        # the SDK sends the key as a bearer token nowadays; older clients use x-api-key
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        given = request.headers.get("x-api-key") or (bearer if scheme.lower() == "bearer" else "")
        if not given:
            return _anthropic_error(401, "authentication_error", "x-api-key header is required")
        if given != expected:
            return _anthropic_error(401, "authentication_error", "invalid x-api-key")
        return None

    def check_body(self, body: dict[str, Any]) -> Response | None:
        for name in ("model", "messages", "max_tokens"):
            if name not in body:
                return _anthropic_error(400, "invalid_request_error", f"{name}: Field required")
        self.model = str(body["model"])
        return None

    def error(self, behaviour: Behaviour) -> Response:
        if behaviour.error == "auth":
            return _anthropic_error(401, "authentication_error", "invalid x-api-key")
        if behaviour.error == "quota":
            return _anthropic_error(
                400,
                "invalid_request_error",
                "Your credit balance is too low to access the Anthropic API. Please go to "
                "Plans & Billing to upgrade or purchase credits.",
            )
        if behaviour.error == "rate_limit":
            headers = {"retry-after": f"{behaviour.retry_after_s or 1:g}"}
            return _anthropic_error(
                429,
                "rate_limit_error",
                "This request would exceed the rate limit for your organization of 50 requests "
                "per minute. Please reduce the prompt length or the maximum tokens requested, "
                "or try again later.",
                headers,
            )
        if behaviour.error == "overloaded":
            return _anthropic_error(529, "overloaded_error", "Overloaded")
        status = behaviour.status or (500 if behaviour.error == "server" else 400)
        kind = _ANTHROPIC_TYPES.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        message = behaviour.message or ("Internal server error" if status >= 500 else "Bad request")
        if status == 404 and behaviour.message is None:
            message = f"model: {self.model}"
        return _anthropic_error(status, kind, message)

    def call_id(self) -> str:
        return f"toolu_01{rand(22)}"

    def stream_error(self) -> bytes:
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return sse(error, "error")

    def garbage(self) -> bytes:
        return b'event: content_block_delta\ndata: {"type": "content_block_delta", "ind\n\n'

    def last_user_text(self, body: dict[str, Any]) -> str:
        for message in reversed(body.get("messages") or []):
            if isinstance(message, dict) and message.get("role") == "user":
                text = text_of(message.get("content"))
                if text:
                    return text
        return ""

    def prompt_of(self, body: dict[str, Any]) -> Any:
        return [body.get("system"), body.get("messages"), body.get("tools")]

    def headers(self) -> dict[str, str]:
        return {"request-id": f"req_01{rand(22)}"}

    def _usage(self, input_tokens: int, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }

    def _stop_reason(self, answer: Answer) -> str:
        return {"tool_calls": "tool_use", "length": "max_tokens"}.get(answer.finish, "end_turn")

    def stream(self, answer: Answer) -> Iterator[bytes]:
        start = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": self._usage(answer.input_tokens, 1),
        }
        yield sse({"type": "message_start", "message": start}, "message_start")
        yield sse({"type": "ping"}, "ping")
        index = 0
        if answer.text:
            yield sse(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            )
            for piece in pieces(answer.text):
                yield sse(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                    "content_block_delta",
                )
            yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")
            index += 1
        for call in answer.calls:
            block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
            yield sse(
                {"type": "content_block_start", "index": index, "content_block": block},
                "content_block_start",
            )
            for part in ["", *fragments(call.json)]:
                yield sse(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": part},
                    },
                    "content_block_delta",
                )
            yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")
            index += 1
        yield sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": self._stop_reason(answer), "stop_sequence": None},
                "usage": {"output_tokens": answer.output_tokens},
            },
            "message_delta",
        )
        yield sse({"type": "message_stop"}, "message_stop")

    def whole(self, answer: Answer) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if answer.text:
            content.append({"type": "text", "text": answer.text})
        for call in answer.calls:
            content.append(
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
            )
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": self._stop_reason(answer),
            "stop_sequence": None,
            "usage": self._usage(answer.input_tokens, answer.output_tokens),
        }


def _anthropic_error(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": f"req_01{rand(22)}",
    }
    return JSONResponse(body, status_code=status, headers=headers)
