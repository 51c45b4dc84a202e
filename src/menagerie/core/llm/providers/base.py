"""The one interface every model provider implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pydantic import SecretStr

from menagerie.core.llm.errors import ProviderUnavailable
from menagerie.core.llm.models import ChatRequest, Completion, StreamEvent
from menagerie.core.llm.providers.upstream import transport_error

ProviderKind = str  # "offline", "openai" (any OpenAI-compatible endpoint), "anthropic", "gemini"


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach one provider: built from settings, one per configured name."""

    name: str  # "openai", "together", "ollama", "my-vllm", …
    kind: ProviderKind
    api_key: SecretStr | None = None
    base_url: str | None = None
    timeout_s: float = 60.0
    extra_headers: dict[str, str] = field(default_factory=dict)


class Provider(ABC):
    """Messages and tools in, a stream of `TextDelta`/`ToolCallEvent`/`Usage`/`Finish` out.

    Adapters raise `ProviderError` subclasses (never SDK exceptions) so the router can tell
    a retryable failure from the caller's mistake. They do not retry: the router does.
    """

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def available(self) -> bool:
        """Whether it can be called now; a provider still being prepared says no."""
        return True

    def unavailable_reason(self) -> str | None:
        """Why it cannot be called now, in a sentence; None when it can."""
        return None

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield the answer as it arrives; ends with `Usage` (when known) and `Finish`."""

    async def complete(self, request: ChatRequest) -> Completion:
        return await Completion.gather(request.model, self.name, self.stream(request))

    async def aclose(self) -> None:
        """Release connections; the default holds none."""
        return None

    def transport_error(self, exc: BaseException, *, started: bool) -> ProviderUnavailable:
        """A timeout, a refused connection or a cut stream, said with this provider's name,
        address and time limit."""
        return transport_error(
            self.name,
            exc,
            base_url=self.config.base_url,
            timeout_s=self.config.timeout_s,
            started=started,
        )
