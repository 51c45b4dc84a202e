"""The built-in offline model: no network, deterministic, and honest about what it is.

It lets a fresh machine and the test suite run every path of the agent loop. It answers
with a fixed sentence that quotes the user, streams word by word at a set pace, and calls a
tool when the newest user message scripts one with a line `/tool <name> <json arguments>`
and that tool was offered. After a tool result it reports what the tool returned.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable

from menagerie.core.llm.errors import ProviderRejected
from menagerie.core.llm.models import (
    ChatMessage,
    ChatRequest,
    Finish,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
)
from menagerie.core.llm.providers.base import Provider, ProviderConfig
from menagerie.core.llm.tokens import estimate_message_tokens, estimate_tokens

MODEL = "menagerie-offline"
PREFIX = "[offline model]"
_TOOL_LINE = re.compile(r"^/tool\s+(?P<name>[A-Za-z0-9_.:-]+)(?:\s+(?P<args>.+))?$", re.M)
_QUOTE_LIMIT = 200


class OfflineProvider(Provider):
    def __init__(
        self,
        config: ProviderConfig,
        *,
        token_delay_s: float = 0.0,
        notice: Callable[[], str | None] | None = None,
    ) -> None:
        super().__init__(config)
        self.token_delay_s = token_delay_s
        # a sentence about the real model on its way (the embedded one while it is built)
        self.notice = notice

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        if request.model not in (MODEL, "offline"):
            raise ProviderRejected(
                f"the offline provider serves only the model {MODEL!r}, not {request.model!r}",
                provider=self.name,
                status=404,
            )
        input_tokens = estimate_message_tokens(request.messages)
        call = scripted_tool_call(request)
        if call is not None:
            yield ToolCallEvent(call)
            yield Usage(input_tokens, estimate_tokens(call.name + call.arguments))
            yield Finish("tool_calls")
            return
        text = reply_text(request.messages)
        extra = self.notice() if self.notice is not None else None
        if extra:
            text = f"{text} {extra}"
        for produced, piece in enumerate(split_tokens(text)):
            if request.max_tokens is not None and produced >= request.max_tokens:
                yield Usage(input_tokens, produced)
                yield Finish("length")
                return
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
            yield TextDelta(piece)
        yield Usage(input_tokens, estimate_tokens(text))
        yield Finish("stop")


def split_tokens(text: str) -> list[str]:
    """Words with their following whitespace: joined back they give the text unchanged."""
    return re.findall(r"\S+\s*|\s+", text)


def scripted_tool_call(request: ChatRequest) -> ToolCall | None:
    if not request.tools or request.tool_choice == "none":
        return None
    last = request.messages[-1] if request.messages else None
    if last is None or last.role != "user":
        return None  # after a tool result the model answers instead of calling again
    offered = {tool.name for tool in request.tools}
    for match in _TOOL_LINE.finditer(last.content):
        name = match.group("name")
        if name not in offered:
            continue
        raw = (match.group("args") or "{}").strip()
        try:
            arguments = json.loads(raw)
        except ValueError:
            arguments = {"input": raw}
        if not isinstance(arguments, dict):
            arguments = {"input": arguments}
        digest = hashlib.sha256(f"{len(request.messages)}:{last.content}".encode()).hexdigest()
        return ToolCall(f"call_{digest[:24]}", name, json.dumps(arguments, sort_keys=True))
    return None


def reply_text(messages: tuple[ChatMessage, ...]) -> str:
    last = messages[-1] if messages else None
    if last is not None and last.role == "tool":
        name = last.name or "the tool"
        return f"{PREFIX} {name} returned: {_quote(last.content)}"
    said = next((m.content for m in reversed(messages) if m.role == "user"), "")
    if not said.strip():
        return f"{PREFIX} I am Menagerie's built-in offline model. Send me a message."
    return (
        f"{PREFIX} I am Menagerie's built-in offline model: I run without a language model, "
        f'so I can only echo what you said: "{_quote(said)}". Configure a provider key '
        "for real answers."
    )


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 1] + "…"
