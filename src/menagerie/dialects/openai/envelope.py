"""OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

from typing import Any

from menagerie.core import errors as E
from menagerie.http.errors import ErrorEnvelope

_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}


class OpenAIEnvelope(ErrorEnvelope):
    codes = {
        E.MalformedRequest: "invalid_json",
        E.Invalid: "invalid_value",
        E.RouteNotFound: "unknown_url",
        E.NotFound: "not_found",
        E.Unauthorized: "invalid_api_key",
        E.QuotaExceeded: "insufficient_quota",
        E.RateLimited: "rate_limit_exceeded",
        E.TooLarge: "request_too_large",
        E.Unavailable: "service_unavailable",
        E.Internal: "internal_error",
    }

    def code_for(self, error: E.MenagerieError) -> str:
        # OpenAI's codes are snake_case: core's MODEL_NOT_FOUND reads model_not_found
        return super().code_for(error).lower()

    def body(
        self, error: E.MenagerieError, *, code: str, status: int, request_id: str
    ) -> dict[str, Any]:
        kind = _TYPES.get(status) or ("server_error" if status >= 500 else "invalid_request_error")
        if isinstance(error, E.QuotaExceeded):
            kind = "insufficient_quota"
        param = error.field if isinstance(error, E.Invalid) else None
        return {"error": {"message": error.message, "type": kind, "param": param, "code": code}}
