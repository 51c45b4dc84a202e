"""`assert_error`: a response is an error of this status, in its dialect's envelope, with
this code (and, where given, this precise reason in its details)."""

from __future__ import annotations

import re
from typing import Any

import httpx

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


def code_of(dialect: str, body: dict[str, Any]) -> str:
    if dialect == "podplay":
        return body["error_code"]
    if dialect in ("panthers", "openai"):
        return body["error"]["code"]
    if dialect == "madace":
        return body["error"]
    return body["code"]  # metamorph, gary


def assert_error(
    response: httpx.Response, status: int, code: str, *, dialect: str
) -> dict[str, Any]:
    """Checks the status, the envelope's fields and the code; returns the body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert code_of(dialect, body) == code, body
    if dialect == "podplay":
        assert body["success"] is False
        assert set(body) >= {"error", "error_code", "details", "request_id", "timestamp"}
        assert ISO.match(body["timestamp"]), body
    elif dialect == "gary":
        assert set(body) >= {"error", "code", "details", "timestamp", "request_id"}, body
        assert body["request_id"] == response.headers["x-request-id"]
        assert ISO.match(body["timestamp"]), body
    elif dialect == "panthers":
        assert set(body) == {"error"}, body
        assert isinstance(body["error"]["message"], str)
        assert body["error"]["message"]
        assert isinstance(body["error"]["details"], dict)
    elif dialect == "madace":
        assert isinstance(body["message"], str)
        assert body["message"]
        assert isinstance(body["timestamp"], int)
    elif dialect == "metamorph":
        assert isinstance(body["error"], str)
        assert body["error"]
    return body
