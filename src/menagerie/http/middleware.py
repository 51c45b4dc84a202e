"""Request context: the request id (accepted or generated, always echoed), request counters,
and the `X-API-Version` header. Pure ASGI, so streaming responses pass straight through."""

from __future__ import annotations

import re
import time

from opentelemetry import context as otel_context
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer, set_span_in_context
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from menagerie.core.ids import request_id as new_request_id
from menagerie.core.ops.logbook import Logbook
from menagerie.core.ops.metrics import UNMATCHED, Metrics
from menagerie.core.ops.stats import RequestStats
from menagerie.logs import request_id_var

REQUEST_ID_HEADER = "x-request-id"
# A client's id is echoed into headers and logs, so only a safe shape is accepted.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_of(scope: Scope) -> str:
    state = scope.get("state") or {}
    return state.get("request_id") or "-"


def _labels(scope: Scope, prefixes: dict[str, str]) -> tuple[str, str]:
    """(dialect, route template) of an answered request: the route the innermost router
    matched (Starlette leaves it in the scope), under the dialect whose mount it came through."""
    route = getattr(scope.get("route"), "path", None) or UNMATCHED
    path = scope.get("path", "")
    head = "/" + path.split("/", 2)[1] if path.count("/") >= 1 else "/"
    return prefixes.get(head, "root"), route


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        stats: RequestStats | None = None,
        metrics: Metrics | None = None,
        prefixes: dict[str, str] | None = None,
        logbook: Logbook | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        """`prefixes` maps each dialect's mount path (`/podplay`) to its name, for labels."""
        self.app = app
        self.stats = stats
        self.metrics = metrics
        self.prefixes = dict(prefixes or {})
        self.logbook = logbook
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = rid
            await send(message)

        started = time.perf_counter()
        http = scope["type"] == "http"
        if http:
            if self.stats is not None:
                self.stats.started()
            if self.metrics is not None:
                self.metrics.request_started()
        span = None
        if http and self.tracer is not None:
            # named by its path while in flight, by its route template once answered
            span = self.tracer.start_span(
                f"{scope.get('method', 'GET')} {scope.get('path', '')}",
                kind=SpanKind.SERVER,
                attributes={"http.request.method": scope.get("method", "GET")},
            )
        context = otel_context.attach(set_span_in_context(span)) if span is not None else None
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if span is not None:
                assert context is not None
                otel_context.detach(context)
                self._end_span(span, scope, status_holder["status"])
            if http:
                seconds = time.perf_counter() - started
                status = status_holder["status"]
                if self.stats is not None:
                    self.stats.finished(seconds, status)
                if self.metrics is not None:
                    dialect, route = _labels(scope, self.prefixes)
                    self.metrics.request_finished(
                        dialect=dialect,
                        route=route,
                        method=scope.get("method", "GET"),
                        status=status,
                        seconds=seconds,
                    )
                if self.logbook is not None:
                    self._log(scope, rid, status, seconds)
            request_id_var.reset(token)

    def _end_span(self, span: Span, scope: Scope, status: int) -> None:
        dialect, route = _labels(scope, self.prefixes)
        span.update_name(f"{scope.get('method', 'GET')} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("menagerie.dialect", dialect)
        principal = (scope.get("state") or {}).get("principal")
        if principal is not None:
            span.set_attribute("menagerie.tenant_id", principal.tenant_id)
        if status >= 500:
            span.set_status(StatusCode.ERROR)
        span.end()

    def _log(self, scope: Scope, rid: str, status: int, seconds: float) -> None:
        assert self.logbook is not None
        # the principal a dependency resolved for this request, if any (request.state)
        principal = (scope.get("state") or {}).get("principal")
        agent = None
        for name, value in scope.get("headers", ()):
            if name == b"user-agent":
                agent = value.decode("latin-1")
                break
        client = scope.get("client")
        self.logbook.request(
            tenant_id=getattr(principal, "tenant_id", None),
            method=scope.get("method", "GET"),
            path=scope.get("path", ""),
            status=status,
            response_ms=seconds * 1000,
            user_agent=agent,
            client_address=client[0] if client else None,
            request_id=rid,
        )


class ApiVersionMiddleware:
    """Adds `X-API-Version`: the version of the API a dialect serves, else the server's."""

    def __init__(self, app: ASGIApp, version: str) -> None:
        self.app = app
        self.version = version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("x-api-version", self.version)
            await send(message)

        await self.app(scope, receive, send_with_version)
