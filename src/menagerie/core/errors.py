"""The typed errors core raises; each dialect renders them in its own envelope.

Core never speaks HTTP and knows no dialect's vocabulary. An error says what went wrong with
its *kind* (the class) and a *reason*: a stable machine word such as `SESSION_NOT_FOUND`.
Each dialect's envelope turns the kind (and, where its seed lists a matching code, the
reason) into that seed's status and error code; the reason itself travels in `details`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class MenagerieError(Exception):
    """Base of every error that core raises on purpose."""

    reason: str = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # a reason more precise than the kind's own, chosen where the error was raised
        self.specific = reason is not None
        if reason is not None:
            self.reason = reason
        self.details: dict[str, Any] = details or {}


class Invalid(MenagerieError):
    """Input that fails validation; names the field, what came and what was expected."""

    reason = "INVALID_INPUT"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        received: Any = None,
        expected: str | None = None,
        missing: bool = False,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        merged: dict[str, Any] = {}
        if field is not None:
            merged["field"] = field
            merged["received"] = received
            merged["expected"] = expected
        merged.update(details or {})
        super().__init__(message, reason=reason, details=merged)
        self.field = field
        self.received = received
        self.expected = expected
        self.missing = missing
        # every individual problem, for dialects that list them all
        self.errors: list[dict[str, Any]] = errors or (
            [{"field": field, "message": message, "received": received, "expected": expected}]
            if field is not None
            else []
        )


class MalformedRequest(Invalid):
    """A body that could not be parsed at all (bad JSON, wrong content)."""

    reason = "MALFORMED_REQUEST"


class NotFound(MenagerieError):
    reason = "NOT_FOUND"


class RouteNotFound(NotFound):
    """No endpoint answers this method and path."""

    reason = "ROUTE_NOT_FOUND"


class MethodNotAllowed(MenagerieError):
    reason = "METHOD_NOT_ALLOWED"


class Conflict(MenagerieError):
    reason = "CONFLICT"


class Unauthorized(MenagerieError):
    reason = "UNAUTHORIZED"


class CredentialsMissing(Unauthorized):
    """No credential was presented at all."""

    reason = "CREDENTIALS_MISSING"


class TokenExpired(Unauthorized):
    reason = "TOKEN_EXPIRED"


class Forbidden(MenagerieError):
    reason = "FORBIDDEN"


class RateLimited(MenagerieError):
    reason = "RATE_LIMITED"

    def __init__(
        self, message: str, *, limit: int, window_seconds: int, reset_at: datetime
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.window_seconds = window_seconds
        self.reset_at = reset_at


class QuotaExceeded(MenagerieError):
    reason = "QUOTA_EXCEEDED"


class LimitReached(MenagerieError):
    """A resource limit (count, size, tier) is reached."""

    reason = "LIMIT_REACHED"


class TooLarge(MenagerieError):
    reason = "PAYLOAD_TOO_LARGE"


class Unavailable(MenagerieError):
    """A service Menagerie depends on cannot be reached right now."""

    reason = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, *, service: str, **kwargs: Any) -> None:
        details = {"service": service, **kwargs.pop("details", {})}
        super().__init__(message, details=details, **kwargs)
        self.service = service


class Timeout(MenagerieError):
    reason = "TIMEOUT"


class Internal(MenagerieError):
    """An unexpected failure; its message is safe to show, the cause is only logged."""

    reason = "INTERNAL_ERROR"
