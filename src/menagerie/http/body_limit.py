"""Request body size limit, answered with 413 in the dialect's own envelope.

A declared `Content-Length` over the limit is refused before the endpoint runs; a body
without one (chunked) is counted as it is read and refused once it passes the limit.
(Starlette's built-in limiter answers plain text, which no dialect's client expects.)
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from menagerie.core.errors import TooLarge
from menagerie.http.errors import ErrorEnvelope
from menagerie.http.middleware import request_id_of


class BodyTooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, so FastAPI's body parsing passes it through."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, envelope: ErrorEnvelope) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.envelope = envelope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            error = TooLarge(
                f"request body of {declared} bytes exceeds the limit of {self.max_bytes}",
                details={"limit_bytes": self.max_bytes, "received_bytes": declared},
            )
            response = self.envelope.render(error, request_id_of(scope))
            response.headers["connection"] = "close"
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
