"""The console's error envelope: `{"error": sentence, "code", "details", "request_id"}`.

The console is the server's own surface, not a seed's: its code is core's reason itself, and
`error` is the sentence the page shows as it is.
"""

from __future__ import annotations

from typing import Any

from menagerie.core import errors as E
from menagerie.http.errors import ErrorEnvelope, HttpStatusError


class ConsoleEnvelope(ErrorEnvelope):
    fallback_code = "INTERNAL_ERROR"
    # what the session's state refuses, not the request's shape
    code_statuses = {"NO_USER_MESSAGE": 409}

    def code_for(self, error: E.MenagerieError) -> str:
        if isinstance(error, HttpStatusError):
            return "INTERNAL_ERROR" if error.status >= 500 else "INVALID_REQUEST"
        return error.reason

    def body(
        self, error: E.MenagerieError, *, code: str, status: int, request_id: str
    ) -> dict[str, Any]:
        message = error.message
        if status >= 500 and isinstance(error, E.Internal | HttpStatusError):
            message = f"Something went wrong on the server (request {request_id})."
        return {
            "error": message[:1].upper() + message[1:],
            "code": code,
            "details": dict(error.details),
            "request_id": request_id,
        }
