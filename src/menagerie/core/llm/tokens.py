"""Token counts where a provider gives none (the offline model, estimates before a call).

Tokenizer files would have to be downloaded at run time, so this is an estimate: about four
characters per token for English text, the rule of thumb providers publish.
"""

from __future__ import annotations

from collections.abc import Iterable

from menagerie.core.llm.models import ChatMessage

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators, as chat formats add per message


def estimate_tokens(text: str) -> int:
    if not text:
        return 0
    return max(1, (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN)


def estimate_message_tokens(messages: Iterable[ChatMessage]) -> int:
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD_TOKENS + estimate_tokens(message.content)
        for call in message.tool_calls:
            total += estimate_tokens(call.name) + estimate_tokens(call.arguments)
    return total
