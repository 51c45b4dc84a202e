"""The typed errors core raises; each dialect renders them in its own envelope.

Core never speaks HTTP and knows no dialect's vocabulary. An error says what went wrong with
its *kind* (the class) and a *reason*: a stable machine word such as `SESSION_NOT_FOUND`.
Each dialect's envelope turns the kind (and, where its seed lists a matching code, the
reason) into that seed's status and error code; the reason itself travels in `details`.
"""

from __future__ import annotations

import errno
import sqlite3
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


# ENOSPC: no space left on the device; EDQUOT: the user's disk quota is used up
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full


def storage_full(exc: BaseException) -> Unavailable | None:
    """The typed error for a write refused because the disk is full, else None.

    Looks along `exc` and its causes for ENOSPC/EDQUOT from the OS, SQLite's `SQLITE_FULL`
    ("database or disk is full") and PostgreSQL's `disk_full`. The kind is `Unavailable`
    (503 in every API, with each API's own code for it), not a 507 of its own: the request
    was valid and nothing was written, so the client may send it again once the operator has
    freed space, which is what a 503 tells it; no API Menagerie serves lists a 507.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if _is_full(current):
            return Unavailable(
                "The server's disk is full: nothing was saved. Try again once space is freed.",
                service="storage",
                reason="STORAGE_FULL",
            )
        orig = getattr(current, "orig", None)  # a driver's error wrapped by SQLAlchemy
        pending += [current.__cause__, current.__context__]
        if isinstance(orig, BaseException):
            pending.append(orig)
    return None


def _is_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return True
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or (
            "database or disk is full" in str(exc)
        )
    return getattr(exc, "sqlstate", None) == _POSTGRES_DISK_FULL
