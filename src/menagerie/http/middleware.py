"""Request context: the request id (accepted or generated, always echoed), request counters,
and the `X-API-Version` header. Pure ASGI, so streaming responses pass straight through."""

from __future__ import annotations

import re
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from menagerie.core.ids import request_id as new_request_id
from menagerie.core.ops.stats import RequestStats
from menagerie.logs import request_id_var

REQUEST_ID_HEADER = "x-request-id"
# A client's id is echoed into headers and logs, so only a safe shape is accepted.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_of(scope: Scope) -> str:
    state = scope.get("state") or {}
    return state.get("request_id") or "-"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, stats: RequestStats | None = None) -> None:
        self.app = app
        self.stats = stats

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
        if self.stats is not None and scope["type"] == "http":
            self.stats.started()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.stats is not None and scope["type"] == "http":
                self.stats.finished(time.perf_counter() - started, status_holder["status"])
            request_id_var.reset(token)


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
