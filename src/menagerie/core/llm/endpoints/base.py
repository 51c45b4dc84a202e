"""The contract between the endpoint manager and the thing that actually runs a model."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from menagerie.core.llm.endpoints.models import EndpointState


class EndpointFailure(Exception):
    """A backend could not bring its endpoint up or down; the message is safe to show."""


class EndpointBackend(ABC):
    kind: str
    # whether the server's shutdown must take the endpoint down with it: a local process
    # would be orphaned, a hosted endpoint is shared and outlives any one server
    stops_with_server: bool = False

    def __init__(self) -> None:
        # told when the endpoint dies on its own, with a human reason
        self.on_exit: Callable[[str], None] | None = None

    @property
    @abstractmethod
    def url(self) -> str | None:
        """The OpenAI-compatible base URL callers use, when known."""

    @property
    def alive(self) -> bool:
        """Whether what `start` brought up is still there, as far as the backend can tell."""
        return True

    @abstractmethod
    async def start(self, timeout_s: float) -> str:
        """Bring the endpoint up and return its URL once it answers; `EndpointFailure` if not.

        When it fails or is cancelled, the manager calls `stop` to take down what it started.
        """

    @abstractmethod
    async def stop(self) -> None:
        """Take the endpoint down; idempotent."""

    async def probe(self) -> EndpointState | None:
        """Its state as found when the manager starts, or None when nothing can be known."""
        return None
