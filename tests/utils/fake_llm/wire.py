"""One answer, provider-neutral, and the interface each provider's wire format implements."""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastapi import Request
from fastapi.responses import Response

from tests.utils.fake_llm.behaviours import Behaviour

if TYPE_CHECKING:
    from tests.utils.fake_llm.server import FakeLLM


@dataclass(frozen=True)
class Call:
    id: str
    name: str
    arguments: dict[str, Any]

    @property
    def json(self) -> str:
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class Answer:
    text: str
    calls: tuple[Call, ...]
    input_tokens: int
    output_tokens: int
    finish: Literal["stop", "length", "tool_calls"]

    @classmethod
    def build(cls, behaviour: Behaviour, body: dict[str, Any], api: WireApi) -> Answer:
        calls = tuple(
            Call(call.id or api.call_id(), call.name, call.arguments)
            for call in behaviour.tool_calls
        )
        if behaviour.text is not None:
            text = behaviour.text
        elif calls:
            text = ""
        else:
            said = api.last_user_text(body)
            text = f"Echo: {said}" if said else "Hello! How can I help you today?"
        if behaviour.usage is not None:
            input_tokens, output_tokens = behaviour.usage
        else:
            input_tokens = estimate_tokens(json.dumps(api.prompt_of(body))) + 3
            output_tokens = estimate_tokens(text) + sum(
                estimate_tokens(c.name + c.json) for c in calls
            )
        finish: Literal["stop", "length", "tool_calls"] = (
            "tool_calls" if calls else behaviour.finish
        )
        return cls(text, calls, input_tokens, max(1, output_tokens), finish)


def estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def pieces(text: str) -> list[str]:
    """Words with their whitespace: the deltas a model streams; joined, the text again."""
    return re.findall(r"\S+\s*|\s+", text)


def fragments(text: str, count: int = 4) -> list[str]:
    """`text` in `count` slices, splitting JSON mid-token as real streams do."""
    size = max(1, math.ceil(len(text) / count))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def sse(data: Any, event: str | None = None, *, newline: str = "\n") -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}{newline}" if event else ""
    return f"{head}data: {payload}{newline}{newline}".encode()


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type", "text") == "text"
        ).strip()
    return ""


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def rand(length: int) -> str:
    # ids only need to look real and differ; `random` keeps the fake cheap under a benchmark
    return "".join(random.choices(ALPHABET, k=length))


class WireApi:
    def __init__(self, server: FakeLLM) -> None:
        self.server = server

    def check_key(self, request: Request) -> Response | None:
        raise NotImplementedError

    def check_body(self, body: dict[str, Any]) -> Response | None:
        return None

    def error(self, behaviour: Behaviour) -> Response:
        raise NotImplementedError

    def call_id(self) -> str:
        raise NotImplementedError

    def last_user_text(self, body: dict[str, Any]) -> str:
        raise NotImplementedError

    def prompt_of(self, body: dict[str, Any]) -> Any:
        raise NotImplementedError

    def stream(self, answer: Answer) -> Iterator[bytes]:
        raise NotImplementedError

    def whole(self, answer: Answer) -> dict[str, Any]:
        raise NotImplementedError

    def stream_error(self) -> bytes:
        raise NotImplementedError

    def garbage(self) -> bytes:
        return b'data: {"choices": [{"delta": {"content": "unterminated\n\n'

    def headers(self) -> dict[str, str]:
        return {}
