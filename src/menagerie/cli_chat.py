"""`menagerie chat [AGENT]`: talk to an agent in the terminal.

With a server answering at `--url` it goes through the server's OpenAI-compatible surface
(model `agent:<name>`), so the terminal sees exactly what any client sees; with none, it runs
the agent loop in this process on the same data directory. Either way the answer streams as
it comes, the session carries over between turns, and `/memories` lists what is remembered.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from rich.console import Console
from rich.markup import escape

from menagerie.settings import Settings

HELP = "Type a message. /memories lists what is remembered, /new starts over, /quit leaves."


class Backend(Protocol):
    session_id: str | None

    def answer(self, message: str) -> AsyncIterator[str]: ...

    async def memories(self) -> list[tuple[str, str]]: ...

    async def close(self) -> None: ...


@dataclass
class RemoteBackend:
    """Through a running server: `/v1/chat/completions` and PodPlay's memory list."""

    url: str
    token: str
    agent: str
    session_id: str | None = None
    user_id: str | None = None
    client: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=httpx.Timeout(10, read=300),
            trust_env=False,
        )

    async def answer(self, message: str) -> AsyncIterator[str]:
        import json

        body: dict[str, object] = {
            "model": f"agent:{self.agent}",
            "messages": [{"role": "user", "content": message}],
            "stream": True,
        }
        if self.session_id:
            body["metadata"] = {"session_id": self.session_id}
        async with self.client.stream("POST", "/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                await response.aread()
                raise RuntimeError(_error_text(response))
            self.session_id = response.headers.get("x-menagerie-session-id", self.session_id)
            async for line in response.aiter_lines():
                data = line.removeprefix("data: ")
                if not line.startswith("data: ") or data == "[DONE]":
                    continue
                chunk = json.loads(data)
                if "error" in chunk:
                    raise RuntimeError(chunk["error"].get("message", "the answer broke off"))
                for choice in chunk.get("choices", []):
                    text = choice.get("delta", {}).get("content")
                    if text:
                        yield text

    async def memories(self) -> list[tuple[str, str]]:
        # PodPlay's memories name their user (required); the token's own is asked once
        if self.user_id is None:
            me = await self.client.get("/podplay/api/auth/me")
            if me.status_code != 200:
                raise RuntimeError(_error_text(me))
            self.user_id = me.json()["user"]["user_id"]
        response = await self.client.get(
            "/podplay/api/chat/memories", params={"limit": 50, "user_id": self.user_id}
        )
        if response.status_code != 200:
            raise RuntimeError(_error_text(response))
        return [(m["category"], m["content"]) for m in response.json()["memories"]]

    async def close(self) -> None:
        await self.client.aclose()


class LocalBackend:
    """In this process: the platform on the configured data directory."""

    def __init__(self, settings: Settings, agent: str) -> None:
        from menagerie.platform import Platform

        self.platform = Platform.build(settings)
        self.agent = agent
        self.session_id: str | None = None
        self._started = False

    async def _principal(self):  # type: ignore[no-untyped-def]
        from menagerie.core.identity.models import ADMIN, Principal

        if not self._started:
            await self.platform.start()
            self._started = True
        result = self.platform.bootstrap_result
        assert result is not None
        return Principal(result.tenant_id, result.admin_user_id, frozenset({ADMIN}), "cli")

    async def answer(self, message: str) -> AsyncIterator[str]:
        from menagerie.core.agents.events import TextChunk, TurnStarted
        from menagerie.core.agents.runtime import TurnRequest

        principal = await self._principal()
        request = TurnRequest(self.agent, message, session_id=self.session_id)
        async for event in self.platform.agents.run(principal, request):
            if isinstance(event, TurnStarted):
                self.session_id = event.session_id
            elif isinstance(event, TextChunk):
                yield event.text

    async def memories(self) -> list[tuple[str, str]]:
        principal = await self._principal()
        return [(m.category, m.content) for m in await self.platform.memory.list(principal)]

    async def close(self) -> None:
        if self._started:
            await self.platform.stop()


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(body.get("message") or error or body)


async def server_answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            response = await client.get(f"{url}/gary/health/live")
    except httpx.HTTPError:
        return False
    return response.status_code == 200


async def run(backend: Backend, console: Console, read: Callable[[], str | None]) -> None:
    """The conversation: answers and memories on stdout, status and errors on `console`."""
    out = Console(highlight=False)
    console.print(HELP, style="dim")
    while True:
        line = await asyncio.to_thread(read)
        if line is None or line.strip() in ("/quit", "/exit"):
            return
        text = line.strip()
        if not text:
            continue
        if text == "/memories":
            remembered = await backend.memories()
            if not remembered:
                console.print("nothing remembered yet", style="dim")
            for category, content in remembered:
                out.print(f"• [bold]{escape(category)}[/bold]: {escape(content)}")
            continue
        if text == "/new":
            backend.session_id = None
            console.print("a new session starts with the next message", style="dim")
            continue
        try:
            async for piece in backend.answer(text):
                sys.stdout.write(piece)
                sys.stdout.flush()
            sys.stdout.write("\n")
            sys.stdout.flush()
        except Exception as error:  # shown, and the conversation goes on
            message = getattr(error, "message", None) or str(error)
            console.print(f"[red]error:[/red] {message}", highlight=False)


def read_line() -> str | None:
    try:
        return input("you> " if sys.stdin.isatty() else "")
    except EOFError:
        return None
