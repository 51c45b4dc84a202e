"""Token counts of a local stream, from the model's own tokenizer.

llama.cpp's server sends no usage in a stream. The prompt it ran is the model's GGUF chat
template rendered over the messages (as the server renders it, in a sandboxed Jinja
environment); its tokenizer counts that and the answer through `/extras/tokenize/count`.
So the usage ledger holds the model's real counts, not a characters-per-token estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from menagerie.core.llm.models import ChatMessage

COUNT_TIMEOUT_S = 5.0


def render_prompt(template: str, messages: Sequence[ChatMessage]) -> str:
    """The prompt text the server builds from `messages`; ValueError if the template fails."""
    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    environment.globals["raise_exception"] = raise_exception
    try:
        return environment.from_string(template).render(
            messages=[_message(m) for m in messages],
            add_generation_prompt=True,
            bos_token="",  # llama.cpp adds its own; the template's copy would be counted twice
            eos_token="",
        )
    except TemplateError as exc:
        raise ValueError(f"the chat template failed: {exc}") from exc


def _message(message: ChatMessage) -> dict[str, Any]:
    return {"role": message.role, "content": message.content}


class TokenCounter:
    """Counts through the server that runs the model (its `/extras` routes beside `/v1`)."""

    def __init__(self, base_url: str) -> None:
        root = base_url.removesuffix("/").removesuffix("/v1")
        self._url = f"{root}/extras/tokenize/count"
        self._client = httpx.AsyncClient(timeout=COUNT_TIMEOUT_S, trust_env=False)

    async def count(self, text: str) -> int:
        response = await self._client.post(self._url, json={"input": text})
        response.raise_for_status()
        return int(response.json()["count"])

    async def aclose(self) -> None:
        await self._client.aclose()
