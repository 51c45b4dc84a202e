"""MADACE's error envelope: `{error: CODE, message, details: string, timestamp: epoch ms}`.

Codes come only from seed 001's two tables (Chat Error Codes, Common Error Codes); each
choice for a kind the seed has no word for is listed in docs/contract.md. Core names fields
in its own words (`session_id`); MADACE's clients know them as `sessionId`.
"""

from __future__ import annotations

import re
from typing import Any

from menagerie.core import errors as E
from menagerie.core.clock import epoch_ms
from menagerie.core.llm import errors as L
from menagerie.http.errors import ErrorEnvelope

# core field names -> the names MADACE's requests spell them with
FIELDS = {
    "session_id": "sessionId",
    "agent_id": "agentId",
    "user_id": "userId",
    "reply_to_id": "replyToId",
    "thread_id": "threadId",
    "start_date": "startDate",
    "end_date": "endDate",
    "expires_at": "expiresAt",
    "older_than": "olderThan",
    "importance_less_than": "importanceLessThan",
    "api_key": "apiKey",
    "test_prompt": "testPrompt",
}
# `Unavailable.service` of the model layer: "llm", "llm:openai", "endpoint:smollm"
LLM_SERVICES = frozenset({"llm", "endpoint"})
_FIELD_WORD = re.compile(r"\b(" + "|".join(FIELDS) + r")\b")


class MadaceEnvelope(ErrorEnvelope):
    codes = {
        E.Invalid: "VALIDATION_ERROR",
        E.NotFound: "NOT_FOUND",
        # the seed has no 405 code: the method is a resource that does not exist
        E.MethodNotAllowed: "NOT_FOUND",
        # the seed's auth is "API key authentication via Authorization header": a missing
        # or refused credential is an invalid key, a key without the right a 403 of it
        E.Unauthorized: "INVALID_API_KEY",
        E.Forbidden: "INVALID_API_KEY",
        E.Conflict: "VALIDATION_ERROR",
        # the seed's one 429 code; the details say which limit
        E.RateLimited: "INSUFFICIENT_QUOTA",
        E.QuotaExceeded: "INSUFFICIENT_QUOTA",
        E.LimitReached: "INSUFFICIENT_QUOTA",
        E.TooLarge: "VALIDATION_ERROR",
        # a dependency that is down answers 503 (504 for a timeout); only a model's outage has
        # a code of its own, LLM_UNAVAILABLE (see `code_for`)
        E.Unavailable: "INTERNAL_ERROR",
        E.Timeout: "INTERNAL_ERROR",
        E.Internal: "INTERNAL_ERROR",
        L.ProviderError: "LLM_UNAVAILABLE",
        L.ProviderRateLimited: "INSUFFICIENT_QUOTA",
        L.ProviderRejected: "VALIDATION_ERROR",
    }
    # core reasons the seed has a code of its own for
    reasons = {
        reason: reason
        for reason in (
            "SESSION_NOT_FOUND",
            "USER_NOT_FOUND",
            "AGENT_NOT_FOUND",
            "WORKFLOW_NOT_FOUND",
            "CONFIG_NOT_FOUND",
            "MESSAGE_TOO_LONG",
            "INVALID_ROLE",
            "CONTEXT_WINDOW_EXCEEDED",
            "MEMORY_QUOTA_EXCEEDED",
            "INVALID_API_KEY",
            "INSUFFICIENT_QUOTA",
        )
    } | {
        "MODEL_UNAVAILABLE": "LLM_UNAVAILABLE",
        "ENDPOINT_UNAVAILABLE": "LLM_UNAVAILABLE",
    }
    fallback_code = "INTERNAL_ERROR"
    # by kind, where the seed's status differs from core's default
    statuses = {
        L.ProviderAuthFailed: 401,
        L.ProviderQuotaExhausted: 429,
        L.ProviderRateLimited: 429,
        L.ProviderRejected: 400,
        # any other provider failure: the LLM is unavailable, where core says 502
        L.ProviderError: 503,
    }
    # the seed's statuses for codes whose core kind answers another by default
    code_statuses = {
        "MEMORY_QUOTA_EXCEEDED": 413,  # a QuotaExceeded, 429 elsewhere
        "STREAM_ERROR": 500,
    }

    def code_for(self, error: E.MenagerieError) -> str:
        if isinstance(error, E.Unavailable) and error.service.split(":")[0] in LLM_SERVICES:
            return "LLM_UNAVAILABLE"
        return super().code_for(error)

    def headers(self, error: E.MenagerieError) -> dict[str, str]:
        retry_after = error.details.get("retry_after_s")
        if isinstance(error, L.ProviderRateLimited) and isinstance(retry_after, int | float):
            return {"Retry-After": str(max(1, round(retry_after)))}
        return super().headers(error)

    def body(
        self, error: E.MenagerieError, *, code: str, status: int, request_id: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"error": code, "message": wire_words(error.message)}
        details = _details_text(error)
        reason = self.reason_of(error, code)
        # the precise reason, where the raiser chose one or the kind is finer than the code's
        if reason and (error.specific or type(error) not in self.codes):
            details = f"{reason}: {details}" if details else reason
        if details:
            body["details"] = details
        body["timestamp"] = epoch_ms()
        body["request_id"] = request_id
        return body


def wire_words(text: str) -> str:
    """Core's field names in a message, spelled as MADACE's clients send them."""
    return _FIELD_WORD.sub(lambda match: FIELDS[match.group(1)], text)


def wire_field(name: str) -> str:
    return ".".join(FIELDS.get(part, part) for part in name.split("."))


def _details_text(error: E.MenagerieError) -> str | None:
    """MADACE's `details` is one human-readable string."""
    if isinstance(error, E.Invalid) and error.errors:
        parts = []
        for problem in error.errors:
            expected = problem.get("expected")
            field = wire_field(str(problem["field"]))
            parts.append(
                f"{field}: {wire_words(str(problem.get('message', 'invalid')))}"
                + (f" (expected {expected})" if expected and not problem.get("missing") else "")
            )
        return "; ".join(parts)
    if "text" in error.details:
        return str(error.details["text"])
    shown = {key: value for key, value in error.details.items() if key != "text"}
    if shown:
        return ", ".join(f"{wire_field(key)}: {value}" for key, value in shown.items())
    return None
