"""OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`, in OpenAI's words.

OpenAI publishes no full list; the types and codes here are those its API answers:
`invalid_request_error` for what the caller can fix, `server_error` for the rest, quota and
rate limits by their own types; `code` only where OpenAI has one (`model_not_found`,
`invalid_api_key`, `unknown_url`, `rate_limit_exceeded`, `insufficient_quota`, and
`missing_required_parameter` / `invalid_type` / `invalid_value` for a bad field), else null.
"""

from __future__ import annotations

from typing import Any

from menagerie.core import errors as E
from menagerie.core.llm.errors import ProviderRateLimited, ProviderRejected
from menagerie.dialects.openai.schemas import ErrorBody, ErrorDetail
from menagerie.http.errors import ErrorEnvelope

NO_CODE = ""  # OpenAI's `"code": null`


class OpenAIEnvelope(ErrorEnvelope):
    """Core kinds and reasons -> OpenAI's status, `type` and `code`."""

    codes = {
        E.MalformedRequest: NO_CODE,
        E.Invalid: "invalid_value",
        E.RouteNotFound: "unknown_url",
        E.NotFound: NO_CODE,
        E.CredentialsMissing: NO_CODE,  # "You didn't provide an API key"
        E.Unauthorized: "invalid_api_key",
        E.QuotaExceeded: "insufficient_quota",
        E.RateLimited: "rate_limit_exceeded",
        # the upstream provider rate limiting us: the caller waits as for our own limit
        ProviderRateLimited: "rate_limit_exceeded",
    }
    # a model is what an OpenAI client names: an unknown agent is an unknown model
    reasons = {"MODEL_NOT_FOUND": "model_not_found", "AGENT_NOT_FOUND": "model_not_found"}
    fallback_code = NO_CODE

    def code_for(self, error: E.MenagerieError) -> str:
        if (
            isinstance(error, E.Invalid)
            and not isinstance(error, E.MalformedRequest)
            and error.reason not in self.reasons
        ):
            if error.missing:
                return "missing_required_parameter"
            problems = error.errors or [{}]
            if str(problems[0].get("message", "")).startswith("Input should be a valid"):
                return "invalid_type"
        return super().code_for(error)

    def error_type(self, error: E.MenagerieError, status: int) -> str:
        if isinstance(error, E.QuotaExceeded):
            return "insufficient_quota"
        if isinstance(error, E.RateLimited | ProviderRateLimited):
            return "requests"
        if status >= 500 and not isinstance(error, ProviderRejected):
            return "server_error"
        return "invalid_request_error"

    def payload(self, error: E.MenagerieError, status: int | None = None) -> ErrorBody:
        """The error as OpenAI writes it; also what a stream sends when it fails mid-way."""
        code = self.code_for(error)
        if status is None:
            status = self.status_for(error, code)
        return ErrorBody(
            error=ErrorDetail(
                message=error.message,
                type=self.error_type(error, status),
                param=error.field if isinstance(error, E.Invalid) else None,
                code=code or None,
            )
        )

    def body(
        self, error: E.MenagerieError, *, code: str, status: int, request_id: str
    ) -> dict[str, Any]:
        return self.payload(error, status).model_dump()


ENVELOPE = OpenAIEnvelope()
