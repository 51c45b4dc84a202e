"""The `local` provider: the embedded model's llama.cpp server, spoken to as OpenAI's API.

Token counts are the model's own (its tokenizer, over the prompt its chat template renders and
over the answer), so the usage ledger records real numbers. Tools are refused before the call
when the model's chat template cannot render them, rather than silently dropped.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx

from menagerie.core.llm.errors import ProviderRejected
from menagerie.core.llm.local.service import LocalModel
from menagerie.core.llm.local.tokens import TokenCounter, render_prompt
from menagerie.core.llm.models import ChatRequest, Finish, StreamEvent, TextDelta, Usage
from menagerie.core.llm.providers.base import ProviderConfig
from menagerie.core.llm.providers.openai_compat import OpenAICompatProvider

log = logging.getLogger(__name__)


class LocalProvider(OpenAICompatProvider):
    def __init__(self, config: ProviderConfig, local: LocalModel) -> None:
        super().__init__(config)
        self.local = local
        self._counter = TokenCounter(local.base_url)

    @property
    def available(self) -> bool:
        return self.local.available

    def unavailable_reason(self) -> str | None:
        return None if self.local.available else self.local.status().detail

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        model = self.local.model
        if request.tools and request.tool_choice != "none" and not (model and model.supports_tools):
            name = model.name if model else "the local model"
            raise ProviderRejected(
                f"{name} cannot call tools: its chat template has no tool format; "
                "ask without tools, or use a model that has them",
                provider=self.name,
                status=400,
            )
        if request.tools and request.tool_choice == "none":
            request = replace(request, tools=(), tool_choice=None)
        usage: Usage | None = None
        answer: list[str] = []
        async for event in super().stream(request):
            if isinstance(event, Usage):
                usage = event
            elif isinstance(event, TextDelta):
                answer.append(event.text)
            elif isinstance(event, Finish) and usage is None:
                counted = await self._count(request, "".join(answer))
                if counted is not None:
                    yield counted
            yield event

    async def _count(self, request: ChatRequest, answer: str) -> Usage | None:
        """The model's own counts; None (the router then estimates) when they cannot be had."""
        model = self.local.model
        if model is None or not model.chat_template:
            return None
        try:
            prompt = render_prompt(model.chat_template, request.messages)
            return Usage(await self._counter.count(prompt), await self._counter.count(answer))
        except (ValueError, KeyError, httpx.HTTPError) as exc:
            log.info("local token count failed, the router estimates instead: %s", exc)
            return None

    async def aclose(self) -> None:
        await self._counter.aclose()
        await super().aclose()
