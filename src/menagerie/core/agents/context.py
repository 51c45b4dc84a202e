"""The model's view of a conversation: the persona, what is remembered, and as much recent
history as the model's context window holds."""

from __future__ import annotations

import json
from collections.abc import Sequence

from menagerie.core.chat.models import Line
from menagerie.core.errors import TooLarge
from menagerie.core.llm.catalog import ModelInfo
from menagerie.core.llm.models import ChatMessage, ToolSpec
from menagerie.core.llm.tokens import MESSAGE_OVERHEAD_TOKENS, estimate_tokens
from menagerie.core.memory.models import ScoredMemory

_ROLES = {"user": "user", "agent": "assistant", "system": "system"}


def memory_section(memories: Sequence[ScoredMemory]) -> str:
    if not memories:
        return ""
    lines = [f"- ({hit.memory.category}) {hit.memory.content}" for hit in memories]
    return "What you remember about this user (use it when relevant):\n" + "\n".join(lines)


def client_context(values: dict[str, object]) -> str:
    if not values:
        return ""
    lines = [
        f"- {key}: {json.dumps(value, default=str)[:500]}"
        for key, value in list(values.items())[:32]
    ]
    return "Context the user's application sent with this message:\n" + "\n".join(lines)


def output_reserve(model: ModelInfo) -> int:
    """Tokens kept free for the answer: the model's own output limit, at most a quarter."""
    return min(model.max_output_tokens, model.context_window // 4)


def window(
    history: Sequence[Line],
    *,
    model: ModelInfo,
    system_prompt: str,
    tools: Sequence[ToolSpec],
) -> list[ChatMessage]:
    """The system prompt, then the newest messages that fit the context window.

    Tool messages are left out: their calls were answered within their own turn, and the
    agent's stored answer says what came of them.
    """
    budget = model.context_window - output_reserve(model)
    budget -= MESSAGE_OVERHEAD_TOKENS + estimate_tokens(system_prompt)
    for tool in tools:
        budget -= estimate_tokens(tool.name + tool.description + json.dumps(tool.parameters))
    kept: list[ChatMessage] = []
    for message in reversed(history):
        role = _ROLES.get(message.role)
        if role is None:
            continue
        cost = MESSAGE_OVERHEAD_TOKENS + estimate_tokens(message.content)
        if cost > budget:
            break
        budget -= cost
        kept.append(ChatMessage(role, message.content))  # type: ignore[arg-type]
    if not kept:
        raise TooLarge(
            f"the conversation does not fit the context window of {model.model_id} "
            f"({model.context_window} tokens), not even its newest message",
            reason="CONTEXT_WINDOW_EXCEEDED",
            details={"model": model.model_id, "context_window": model.context_window},
        )
    kept.reverse()
    return [ChatMessage("system", system_prompt), *kept]
