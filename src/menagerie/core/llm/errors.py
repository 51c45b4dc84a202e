"""Failures of an upstream model provider, classified so that the router knows what to do.

Retryable failures (rate limits, 5xx, timeouts, lost connections) are retried and then fall
back along the chain; the others (a bad key, a bad request) are the caller's to fix.
"""

from __future__ import annotations

from typing import Any

from menagerie.core.errors import MenagerieError, QuotaExceeded, Unauthorized


class ProviderError(MenagerieError):
    """An upstream model call failed. Rendered by dialects as 502 unless a subclass says else."""

    reason = "PROVIDER_ERROR"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        retryable: bool = False,
        status: int | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        merged = {"provider": provider, **(details or {})}
        if status is not None:
            merged["upstream_status"] = status
        # always a specific reason, so that no dialect renders a provider's refusal of our key
        # as the caller's own authentication failure
        super().__init__(message, reason=reason or type(self).reason, details=merged)
        self.provider = provider
        self.retryable = retryable
        self.status = status


class ProviderRateLimited(ProviderError):
    reason = "PROVIDER_RATE_LIMITED"

    def __init__(self, message: str, *, provider: str, **kwargs: Any) -> None:
        super().__init__(message, provider=provider, retryable=True, **kwargs)


class ProviderUnavailable(ProviderError):
    """5xx, timeout, refused or cut connection."""

    reason = "PROVIDER_UNAVAILABLE"

    def __init__(self, message: str, *, provider: str, **kwargs: Any) -> None:
        super().__init__(message, provider=provider, retryable=True, **kwargs)


class ProviderAuthFailed(ProviderError, Unauthorized):
    """The provider refused the API key."""

    reason = "INVALID_API_KEY"


class ProviderQuotaExhausted(ProviderError, QuotaExceeded):
    """The provider says the account is out of credit (OpenAI's `insufficient_quota`)."""

    reason = "INSUFFICIENT_QUOTA"


class ProviderRejected(ProviderError):
    """The provider refused the request itself (400/404/422): an unknown model, bad input."""

    reason = "PROVIDER_REJECTED"
