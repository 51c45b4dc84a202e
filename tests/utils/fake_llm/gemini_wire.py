"""Gemini's generateContent wire format: JSON, `alt=sse` chunks, google.rpc errors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from tests.utils.fake_llm.behaviours import Behaviour
from tests.utils.fake_llm.wire import Answer, WireApi, pieces, rand, sse

if TYPE_CHECKING:
    from tests.utils.fake_llm.server import FakeLLM

_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class GeminiWire(WireApi):
    def __init__(self, server: FakeLLM, model: str) -> None:
        super().__init__(server)
        self.model = model or "gemini-2.0-flash"
        self.response_id = rand(22)
        self._signatures = 0

    def check_key(self, request: Request) -> Response | None:
        expected = self.server.api_key
        if expected is None:
            return None
        given = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not given:
            return gemini_error(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if given != expected:
            return _invalid_gemini_key()
        return None

    def check_body(self, body: dict[str, Any]) -> Response | None:
        if not body.get("contents"):
            return gemini_error(
                400,
                "INVALID_ARGUMENT",
                "* GenerateContentRequest.contents: contents is not specified\n",
            )
        return None

    def error(self, behaviour: Behaviour) -> Response:
        if behaviour.error == "auth":
            return _invalid_gemini_key()
        if behaviour.error in ("quota", "rate_limit"):
            per = "PerDay" if behaviour.error == "quota" else "PerMinute"
            details: list[dict[str, Any]] = [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/"
                            "generate_content_free_tier_requests",
                            "quotaId": f"GenerateRequests{per}PerProjectPerModel-FreeTier",
                            "quotaDimensions": {"location": "global", "model": self.model},
                            "quotaValue": "50" if per == "PerDay" else "10",
                        }
                    ],
                },
                {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [
                        {
                            "description": "Learn more about Gemini API quotas",
                            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                        }
                    ],
                },
            ]
            if behaviour.error == "rate_limit":
                details.append(
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{behaviour.retry_after_s or 1:g}s",
                    }
                )
            return gemini_error(
                429,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details. "
                "For more information on this error, head to: "
                "https://ai.google.dev/gemini-api/docs/rate-limits.",
                details,
            )
        if behaviour.error == "overloaded":
            return gemini_error(
                503, "UNAVAILABLE", "The model is overloaded. Please try again later."
            )
        status = behaviour.status or (500 if behaviour.error == "server" else 400)
        message = behaviour.message or (
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting"
            if status >= 500
            else "Request contains an invalid argument."
        )
        if status == 404 and behaviour.message is None:
            message = (
                f"models/{self.model} is not found for API version v1beta, or is not "
                "supported for generateContent."
            )
        return gemini_error(status, _GEMINI_STATUS.get(status, "UNKNOWN"), message)

    def call_id(self) -> str:
        return ""  # Gemini's API gives function calls no id

    def stream_error(self) -> bytes:
        error = {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}
        return sse({"error": error}, newline="\r\n")

    def last_user_text(self, body: dict[str, Any]) -> str:
        for content in reversed(body.get("contents") or []):
            if isinstance(content, dict) and content.get("role", "user") == "user":
                text = " ".join(
                    str(part["text"]) for part in content.get("parts") or () if "text" in part
                ).strip()
                if text:
                    return text
        return ""

    def prompt_of(self, body: dict[str, Any]) -> Any:
        return [body.get("systemInstruction"), body.get("contents"), body.get("tools")]

    def _candidate(self, parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish is not None:
            candidate["finishReason"] = finish
        return candidate

    def _usage(self, answer: Answer, final: bool) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "promptTokenCount": answer.input_tokens,
            "totalTokenCount": answer.input_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": answer.input_tokens}],
        }
        if final:
            usage["candidatesTokenCount"] = answer.output_tokens
            usage["totalTokenCount"] = answer.input_tokens + answer.output_tokens
        return usage

    def _response(
        self, answer: Answer, parts: list[dict[str, Any]], finish: str | None
    ) -> dict[str, Any]:
        return {
            "candidates": [self._candidate(parts, finish)],
            "usageMetadata": self._usage(answer, finish is not None),
            "modelVersion": self.server.model_version or self.model,
            "responseId": self.response_id,
        }

    def _call_parts(self, answer: Answer) -> list[dict[str, Any]]:
        parts = []
        for call in answer.calls:
            function_call: dict[str, Any] = {"name": call.name, "args": call.arguments}
            if call.id:
                function_call["id"] = call.id
            part: dict[str, Any] = {"functionCall": function_call}
            if not parts:  # like Gemini 3: the first call of a step carries a signature
                self._signatures += 1
                signature = f"fake-signature-{self.response_id}-{self._signatures}"
                part["thoughtSignature"] = base64.b64encode(signature.encode()).decode()
            parts.append(part)
        return parts

    def _finish(self, answer: Answer) -> str:
        return "MAX_TOKENS" if answer.finish == "length" else "STOP"

    def stream(self, answer: Answer) -> Iterator[bytes]:
        text_pieces = pieces(answer.text)
        call_parts = self._call_parts(answer)
        if not text_pieces and not call_parts:
            text_pieces = [""]
        for position, piece in enumerate(text_pieces):
            last = position == len(text_pieces) - 1 and not call_parts
            finish = self._finish(answer) if last else None
            yield sse(self._response(answer, [{"text": piece}], finish), newline="\r\n")
        if call_parts:
            yield sse(self._response(answer, call_parts, self._finish(answer)), newline="\r\n")

    def whole(self, answer: Answer) -> dict[str, Any]:
        parts: list[dict[str, Any]] = [{"text": answer.text}] if answer.text else []
        parts.extend(self._call_parts(answer))
        return self._response(answer, parts, self._finish(answer))


def gemini_error(
    status: int, code_name: str, message: str, details: list[dict[str, Any]] | None = None
) -> JSONResponse:
    error: dict[str, Any] = {"code": status, "message": message, "status": code_name}
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status)


def _invalid_gemini_key() -> JSONResponse:
    # Gemini answers a wrong key with 400, not 401; only the ErrorInfo reason says why
    return gemini_error(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": "API key not valid. Please pass a valid API key.",
            },
        ],
    )
