"""The seeds' own examples, for tests that replay them: a request body to send, a response
(or event payload) whose every field an answer must have, with the same JSON type."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.contract import seeds

_JSON_BLOCK = re.compile(r"```json\s*\n(.*?)```", re.S)


def example(seed: str, method: str, path: str, kind: str = "response") -> Any:
    """The first `kind` ("request" or "response") example of the seed's `METHOD path`."""
    for endpoint in seeds.endpoints(seed):
        if (endpoint.method, endpoint.path) != (method, path):
            continue
        for item in endpoint.examples:
            wanted = item.is_request if kind == "request" else item.is_response
            if wanted and item.value is not None:
                return item.value
    raise LookupError(f"seed {seed} shows no {kind} example for {method} {path}")


def event_payload(seed: str, heading: str) -> Any:
    """The JSON block under a heading (a socket event's `Server Payload`)."""
    match = _JSON_BLOCK.search(seeds.section(seed, heading))
    if match is None:
        raise LookupError(f"seed {seed} shows no JSON under {heading!r}")
    return json.loads(match.group(1))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_shaped_like(
    shown: Any, actual: Any, where: str = "", *, free: frozenset[str] = frozenset()
) -> None:
    """Every field the seed shows is in `actual`, with the seed's JSON type, all the way down
    (a list's items against the seed's first item; an empty list is a list). Under a path in
    `free` (an object whose keys are a server's or a tool's) only the type is checked."""
    here = where or "<body>"
    assert actual is not None, f"{here}: null where the seed shows {shown!r}"
    assert _kind(actual) == _kind(shown), f"{here}: {actual!r} is not a {_kind(shown)}"
    if where in free:
        return
    if isinstance(shown, dict):
        for key, value in shown.items():
            assert key in actual, f"{where}.{key}: missing (the seed shows {value!r})"
            path = f"{where}.{key}" if where else key
            assert_shaped_like(value, actual[key], path, free=free)
    elif isinstance(shown, list) and shown:
        for item in actual:
            assert_shaped_like(shown[0], item, f"{where}[]", free=free)
