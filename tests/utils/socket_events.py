"""A python-socketio test client that queues every event it hears, and waits for one."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

WAIT_S = 10.0


class EventClient:
    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.heard: list[tuple[str, Any]] = []

        @self.sio.on("*")
        async def anything(event: str, data: Any) -> None:
            self.heard.append((event, data))
            await self.events.put((event, data))

    async def next(self, name: str, **match: Any) -> Any:
        """The next `name` event (whose payload has the `match` values), within WAIT_S."""
        async with asyncio.timeout(WAIT_S):
            while True:
                event, data = await self.events.get()
                if event == name and all(data.get(k) == v for k, v in match.items()):
                    return data
