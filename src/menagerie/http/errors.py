"""Error envelopes: core errors and framework errors, rendered in each dialect's own shape.

A dialect subclasses `ErrorEnvelope`, says which codes and statuses it uses, and builds its
body; `install_error_handling` wires it into that dialect's FastAPI app so that route
errors, validation failures, unknown routes, oversized bodies and unexpected exceptions all
come out in that shape. Nothing answers a bare 500 with a stack trace.
"""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from menagerie.core import errors as E
from menagerie.core.llm.errors import (
    ProviderError,
    ProviderQuotaExhausted,
    ProviderRateLimited,
    ProviderRejected,
)
from menagerie.http.middleware import request_id_of

log = logging.getLogger("menagerie.http")

DEFAULT_STATUS: dict[type[E.MenagerieError], int] = {
    E.MalformedRequest: 400,
    E.Invalid: 400,
    E.RouteNotFound: 404,
    E.NotFound: 404,
    E.MethodNotAllowed: 405,
    E.Conflict: 409,
    E.Unauthorized: 401,
    E.Forbidden: 403,
    E.TooLarge: 413,
    E.RateLimited: 429,
    E.QuotaExceeded: 429,
    E.LimitReached: 429,
    E.Unavailable: 503,
    E.Timeout: 504,
    E.Internal: 500,
    # an upstream model provider failed: a bad gateway, unless it refused our request itself
    ProviderQuotaExhausted: 429,
    ProviderRateLimited: 429,
    ProviderRejected: 400,
    ProviderError: 502,
}

_HTTP_STATUS_TO_ERROR: dict[int, tuple[type[E.MenagerieError], str]] = {
    400: (E.MalformedRequest, "malformed request body"),
    401: (E.Unauthorized, "authentication required"),
    403: (E.Forbidden, "forbidden"),
    404: (E.RouteNotFound, "no such endpoint"),
    405: (E.MethodNotAllowed, "method not allowed"),
    413: (E.TooLarge, "request body too large"),
    429: (E.QuotaExceeded, "too many requests"),
    503: (E.Unavailable, "service unavailable"),
}


def _lookup(table: dict[type, Any], error: E.MenagerieError) -> Any:
    for cls in type(error).__mro__:
        if cls in table:
            return table[cls]
    return None


class ErrorEnvelope(ABC):
    """How one dialect spells errors. Subclasses override the tables and `body`.

    A dialect's `code` holds only codes its own seed lists: `codes` names one for each kind
    of core error, `reasons` the few core reasons its seed has a word of its own for
    (MADACE's `SESSION_NOT_FOUND`). Any other reason travels in `details`.
    """

    # this seed's code for each kind of core error
    codes: dict[type[E.MenagerieError], str] = {}
    # this seed's code for a core reason, where the seed lists one
    reasons: dict[str, str] = {}
    # the code used when neither table knows the error
    fallback_code: str = "INTERNAL_ERROR"
    # status overrides by kind, then by code
    statuses: dict[type[E.MenagerieError], int] = {}
    code_statuses: dict[str, int] = {}

    def code_for(self, error: E.MenagerieError) -> str:
        return self.reasons.get(error.reason) or _lookup(self.codes, error) or self.fallback_code

    def vocabulary(self) -> frozenset[str]:
        """Every fixed code this envelope can answer (a dialect with a documented pattern,
        such as Metamorph's `MISSING_<FIELD>`, adds those on top)."""
        return frozenset({*self.codes.values(), *self.reasons.values(), self.fallback_code})

    def reason_of(self, error: E.MenagerieError, code: str) -> str | None:
        """The precise reason, for `details`, when the code alone does not say it."""
        return error.reason if error.reason != code else None

    def status_for(self, error: E.MenagerieError, code: str) -> int:
        if code in self.code_statuses:
            return self.code_statuses[code]
        if isinstance(error, HttpStatusError):
            return error.status
        return _lookup(self.statuses, error) or _lookup(DEFAULT_STATUS, error) or 500

    @abstractmethod
    def body(
        self, error: E.MenagerieError, *, code: str, status: int, request_id: str
    ) -> dict[str, Any]:
        """The JSON body for `error`, already resolved to `code` and `status`."""

    def headers(self, error: E.MenagerieError) -> dict[str, str]:
        if isinstance(error, E.RateLimited):
            return {"Retry-After": str(retry_after_s(error))}
        return {}

    def render(self, error: E.MenagerieError, request_id: str) -> JSONResponse:
        code = self.code_for(error)
        status = self.status_for(error, code)
        body = self.body(error, code=code, status=status, request_id=request_id)
        return JSONResponse(body, status_code=status, headers=self.headers(error))


def retry_after_s(error: E.RateLimited) -> int:
    """Whole seconds until `error` lifts, rounded up so that a client never retries early."""
    return max(1, math.ceil(error.reset_at.timestamp() - time.time()))


class HttpStatusError(E.MenagerieError):
    """A framework HTTP error with a status no core kind covers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def from_validation_error(exc: RequestValidationError) -> E.Invalid:
    problems: list[dict[str, Any]] = []
    for item in exc.errors():
        if isinstance(item.get("input"), bytes | bytearray):
            # a body FastAPI would not parse as JSON (text/plain, a form…)
            return E.MalformedRequest(
                "request body must be JSON, sent with Content-Type: application/json",
                field="body",
                received=None,
                expected="a JSON document",
            )
        if item.get("type") == "json_invalid":
            return E.MalformedRequest(
                "request body is not valid JSON",
                field="body",
                received=None,
                expected="a JSON document",
            )
        location = [str(part) for part in item.get("loc", ()) if part not in ("body",)]
        if location and location[0] in ("query", "path", "header", "cookie"):
            location = location[1:]
        field = ".".join(location) or "body"
        problems.append(
            {
                "field": field,
                "message": item.get("msg", "invalid"),
                "received": _safe_received(item.get("input")),
                "expected": _expected(item),
                "missing": item.get("type") == "missing",
            }
        )
    first = problems[0] if problems else {"field": "body", "received": None, "expected": None}
    message = (
        f"field '{first['field']}' is required"
        if first.get("missing")
        else f"field '{first['field']}': {first.get('message', 'invalid value')}"
    )
    return E.Invalid(
        message,
        field=first["field"],
        received=first["received"],
        expected=first["expected"],
        missing=bool(first.get("missing")),
        errors=problems,
    )


def _expected(item: dict[str, Any]) -> str:
    if item.get("type") == "missing":
        return "a value"
    return str(item.get("msg", "a valid value"))


def _safe_received(value: Any) -> Any:
    """What the client sent, cut short; dicts stand for 'an object' (it may hold secrets)."""
    if isinstance(value, dict):
        return "<object>"
    if isinstance(value, list):
        return "<array>"
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "…"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return f"<{type(value).__name__}>"  # anything else may not even be JSON


def from_http_exception(exc: StarletteHTTPException, method: str, path: str) -> E.MenagerieError:
    kind = _HTTP_STATUS_TO_ERROR.get(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if kind is None:
        return HttpStatusError(exc.status_code, detail or "request failed")
    cls, message = kind
    if cls is E.Unavailable:
        return E.Unavailable(detail or message, service="server")
    if cls is E.MalformedRequest:
        return E.MalformedRequest(detail or message, field="body", expected="a valid body")
    if exc.status_code in (404, 405):
        return cls(f"{message}: {method} {path}", details={"method": method, "path": path})
    if exc.status_code == 413:
        return E.TooLarge(message)
    return cls(detail or message)


def _flat(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        # FastAPI keeps an included router whole (its routes' paths already carry any prefix,
        # and dialect apps include their routers without one)
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flat(inner.routes)
        else:
            yield route


def allowed_methods(request: Request) -> str:
    """Every method some route of this app answers at the request's path: Starlette's own
    `Allow` names only the first route that matched the path, not its siblings."""
    methods: set[str] = set()
    for route in _flat(request.app.router.routes):
        match, _ = route.matches(request.scope)
        found = getattr(route, "methods", None)
        if match is not Match.NONE and found:
            methods |= set(found)
    return ", ".join(sorted(methods))


class UnexpectedErrorMiddleware:
    """The last line: an exception nobody handled is logged with the request id and answered
    in the dialect's envelope as INTERNAL_ERROR, with no trace of its internals."""

    def __init__(self, app: ASGIApp, envelope: ErrorEnvelope) -> None:
        self.app = app
        self.envelope = envelope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            rid = request_id_of(scope)
            error: E.MenagerieError
            if isinstance(exc, E.MenagerieError):
                error = exc
            elif (full := E.storage_full(exc)) is not None:  # a file write met a full disk
                log.warning("%s %s: %s", scope.get("method"), scope.get("path"), exc)
                error = full
            else:
                log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
                error = E.Internal("internal server error")
            if started:
                raise  # the response is already on the wire; the server closes it
            response = self.envelope.render(error, rid)
            await response(scope, receive, send)


def install_error_handling(app: FastAPI, envelope: ErrorEnvelope) -> None:
    async def on_core_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, E.MenagerieError)
        if isinstance(exc, E.Unavailable):
            log.warning("%s unavailable: %s", exc.service, exc.__cause__ or exc.message)
        return envelope.render(exc, request_id_of(request.scope))

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return envelope.render(from_validation_error(exc), request_id_of(request.scope))

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error = from_http_exception(exc, request.method, request.url.path)
        response = envelope.render(error, request_id_of(request.scope))
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            response.headers["Allow"] = allowed_methods(request)
        return response

    app.add_exception_handler(E.MenagerieError, on_core_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_middleware(UnexpectedErrorMiddleware, envelope=envelope)
