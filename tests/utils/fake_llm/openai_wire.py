"""OpenAI's chat completions wire format: JSON, SSE chunks ending `data: [DONE]`, errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from tests.utils.fake_llm.behaviours import Behaviour
from tests.utils.fake_llm.wire import Answer, WireApi, fragments, pieces, rand, sse, text_of

if TYPE_CHECKING:
    from tests.utils.fake_llm.server import FakeLLM


class OpenAIWire(WireApi):
    def __init__(self, server: FakeLLM) -> None:
        super().__init__(server)
        self.id = f"chatcmpl-{rand(29)}"
        self.created = int(time.time())
        self.model = "gpt-4o-mini"

    def check_key(self, request: Request) -> Response | None:
        expected = self.server.api_key
        if expected is None:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return _openai_error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
                None,
            )
        if given != expected:
            return _openai_error(
                401,
                f"Incorrect API key provided: {_masked(given)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )
        return None

    def check_body(self, body: dict[str, Any]) -> Response | None:
        for name in ("model", "messages"):
            if name not in body:
                return _openai_error(
                    400, f"Missing required parameter: '{name}'.", "invalid_request_error", None
                )
        self.model = str(body["model"])
        return None

    def error(self, behaviour: Behaviour) -> Response:
        headers: dict[str, str] = {}
        if behaviour.retry_after_s is not None:
            headers["retry-after"] = f"{behaviour.retry_after_s:g}"
        if behaviour.error == "auth":
            return _openai_error(
                401,
                "Incorrect API key provided: sk-proj-****abcd. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )
        if behaviour.error == "quota":
            return _openai_error(
                429,
                "You exceeded your current quota, please check your plan and billing details. "
                "For more information on this error, read the docs: "
                "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                "insufficient_quota",
                "insufficient_quota",
            )
        if behaviour.error == "rate_limit":
            return _openai_error(
                429,
                f"Rate limit reached for {self.model} in organization org-fake on requests per "
                "min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
                "requests",
                "rate_limit_exceeded",
                headers,
            )
        if behaviour.error == "server":
            return _openai_error(
                behaviour.status or 500,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
            )
        if behaviour.error == "overloaded":
            return _openai_error(
                503,
                "The engine is currently overloaded, please try again later.",
                "server_error",
                None,
            )
        status = behaviour.status or 400
        kind = "server_error" if status >= 500 else "invalid_request_error"
        if status == 404 and behaviour.code is None:
            message = f"The model `{self.model}` does not exist or you do not have access to it."
            return _openai_error(404, message, kind, "model_not_found")
        return _openai_error(
            status, behaviour.message or f"Error {status}", kind, behaviour.code, headers
        )

    def call_id(self) -> str:
        return f"call_{rand(24)}"

    def stream_error(self) -> bytes:
        error = {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        }
        return sse({"error": error})

    def last_user_text(self, body: dict[str, Any]) -> str:
        for message in reversed(body.get("messages") or []):
            if isinstance(message, dict) and message.get("role") == "user":
                return text_of(message.get("content"))
        return ""

    def prompt_of(self, body: dict[str, Any]) -> Any:
        return [body.get("messages"), body.get("tools")]

    def headers(self) -> dict[str, str]:
        return {"x-request-id": f"req_{rand(32)}", "openai-processing-ms": "42"}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": None,
        }

    def _usage(self, answer: Answer) -> dict[str, Any]:
        return {
            "prompt_tokens": answer.input_tokens,
            "completion_tokens": answer.output_tokens,
            "total_tokens": answer.input_tokens + answer.output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def stream(self, answer: Answer) -> Iterator[bytes]:
        yield sse(self._chunk({"role": "assistant", "content": "", "refusal": None}))
        for piece in pieces(answer.text):
            yield sse(self._chunk({"content": piece}))
        for index, call in enumerate(answer.calls):
            parts = fragments(call.json)
            yield sse(
                self._chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call.id,
                                "type": "function",
                                "function": {"name": call.name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            for part in parts:
                yield sse(
                    self._chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
                )
        yield sse(self._chunk({}, answer.finish))
        final = self._chunk({})
        final["choices"] = []
        final["usage"] = self._usage(answer)
        yield sse(final)
        yield sse("[DONE]")

    def whole(self, answer: Answer) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": answer.text or None,
            "refusal": None,
            "annotations": [],
        }
        if answer.calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.json},
                }
                for call in answer.calls
            ]
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": answer.finish}
            ],
            "usage": self._usage(answer),
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }


def _openai_error(
    status: int,
    message: str,
    kind: str,
    code: str | None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _masked(key: str) -> str:
    return f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 8 else "****"
