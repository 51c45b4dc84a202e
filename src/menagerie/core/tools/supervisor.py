"""The running servers of this process: one `McpSession` per installation, their status
changes recorded and published, their tool calls checked, bounded and masked.

The supervisor knows nothing of the database: the service hands it launch plans and a
`record` callback that stores each status change before it is published.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

from menagerie.core.errors import NotFound
from menagerie.core.events.bus import EventBus
from menagerie.core.redact import MASK as RESULT_MASK
from menagerie.core.redact import Redactor
from menagerie.core.tools.arguments import validate_arguments
from menagerie.core.tools.events import ServerState
from menagerie.core.tools.failures import offline_error
from menagerie.core.tools.models import LaunchPlan, McpSettings, ToolInfo, ToolResult
from menagerie.core.tools.sandboxing import SandboxedCommand, ServerSandbox
from menagerie.core.tools.secrets import mask_secrets
from menagerie.core.tools.session import McpSession
from menagerie.core.tools.views import status_event

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (tenant id, server name)
StatusRecorder = Callable[[str, ServerState, str | None, datetime | None], Awaitable[None]]
# (server name, outcome: ok | tool_error | failed, seconds): told of every tool call answered
CallListener = Callable[[str, str, float], None]
_STATE_STATUS: dict[str, ServerState] = {
    "starting": "starting",
    "running": "running",
    "offline": "offline",
}


class Supervisor:
    def __init__(
        self,
        events: EventBus,
        redactor: Redactor,
        settings: McpSettings,
        record: StatusRecorder,
        sandbox: ServerSandbox | None = None,
    ) -> None:
        self._events = events
        self._redactor = redactor
        self._settings = settings
        self._record = record
        self.sandbox = sandbox if sandbox is not None else ServerSandbox(None)
        self._sessions: dict[Key, McpSession] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._status_lock = asyncio.Lock()  # status records land in the order they happened
        self._closing = False
        self._call_listeners: list[CallListener] = []

    # -- sessions -----------------------------------------------------------------------------

    def get(self, tenant_id: str, server_name: str) -> McpSession | None:
        return self._sessions.get((tenant_id, server_name))

    def running(self, tenant_id: str, server_name: str, status: str) -> McpSession:
        """The session of a server, or MCP_SERVER_OFFLINE saying what its status is."""
        session = self._sessions.get((tenant_id, server_name))
        if session is None:
            raise offline_error(server_name, f"it is {status}")
        return session

    def of_tenant(self, tenant_id: str) -> list[McpSession]:
        return [s for (t, _), s in sorted(self._sessions.items()) if t == tenant_id]

    def every(self) -> list[McpSession]:
        return list(self._sessions.values())

    def by_tenant(self) -> list[tuple[str, McpSession]]:
        """Every session with its tenant's id (for the operator's checks)."""
        return [(tenant, session) for (tenant, _), session in sorted(self._sessions.items())]

    def on_call(self, listener: CallListener) -> None:
        self._call_listeners.append(listener)

    def cached_tools(self, tenant_id: str) -> list[ToolInfo]:
        """Every tool of the tenant's running servers, from the sessions' caches (no I/O)."""
        return [
            tool
            for session in self.of_tenant(tenant_id)
            if session.state == "running"
            for tool in session.tools
        ]

    def lock(self, tenant_id: str, server_name: str) -> asyncio.Lock:
        return self._locks.setdefault((tenant_id, server_name), asyncio.Lock())

    async def launch(
        self,
        tenant_id: str,
        installation_id: str,
        server_name: str,
        plan: LaunchPlan,
        *,
        secrets: list[str],
        call_timeout_s: float,
        sandboxed: SandboxedCommand | None = None,
    ) -> McpSession:
        """Start a session for the server (the caller holds its lock and stopped any other)."""
        session = McpSession(
            server_name,
            plan,
            redactor=self._redactor,
            connect_timeout_s=self._settings.connect_timeout_s,
            health_interval_s=self._settings.health_interval_s,
            on_change=lambda s: self._changed(tenant_id, installation_id, s),
            sandboxed=sandboxed,
            allow_private_urls=self._settings.allow_private_urls,
        )
        session.secrets = secrets
        session.call_timeout_s = call_timeout_s
        self._sessions[(tenant_id, server_name)] = session
        await session.start()
        return session

    async def discard(self, tenant_id: str, server_name: str) -> bool:
        """Stop and forget the server's session; says whether there was one."""
        session = self._sessions.pop((tenant_id, server_name), None)
        if session is None:
            return False
        await self._end(session)
        return True

    async def _end(self, session: McpSession) -> None:
        """Stop a session; a sandboxed server's leftovers (its cgroup, any process that
        outlived it) go with it."""
        try:
            await session.stop()
        finally:
            if session.sandboxed is not None:
                await self.sandbox.release(session.sandboxed.group)

    async def stop(self) -> None:
        # a server stopped by our own shutdown keeps its recorded status, so that the next
        # start resumes it; status writes already under way finish rather than being cut off
        self._closing = True
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(self._end(s) for s in sessions), return_exceptions=True)
        if self._background:
            await asyncio.wait(list(self._background), timeout=5)
        for task in list(self._background):
            task.cancel()

    def reopen(self) -> None:
        self._closing = False

    # -- calls --------------------------------------------------------------------------------

    async def call(
        self,
        session: McpSession,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout_s: float | None = None,
    ) -> ToolResult:
        info = session.tool(tool)
        if info is None:
            available = ", ".join(t.name for t in session.tools[:20])
            raise NotFound(
                f"MCP server {session.name} has no tool {tool!r}; it has: {available}",
                reason="TOOL_NOT_FOUND",
            )
        validate_arguments(tool, info.input_schema, arguments)
        started, outcome = time.perf_counter(), "failed"
        try:
            result = await session.call_tool(
                tool, arguments, timeout_s=timeout_s or session.call_timeout_s
            )
            outcome = "tool_error" if result.is_error else "ok"
        finally:
            self._told(session.name, outcome, time.perf_counter() - started)
        # a server may echo what it was configured with (an environment dump, an error
        # quoting its URL): its own secrets never travel back out through a tool result
        if session.secrets:
            masked = mask_secrets(result.content, session.secrets, RESULT_MASK)
            result = dataclasses.replace(result, content=masked)
        return result

    def _told(self, server: str, outcome: str, seconds: float) -> None:
        for listener in self._call_listeners:
            try:
                listener(server, outcome, seconds)
            except Exception:  # a listener's fault is never the call's
                log.exception("tool call listener failed")

    # -- status -------------------------------------------------------------------------------

    async def publish(
        self,
        tenant_id: str,
        installation_id: str,
        name: str,
        status: ServerState,
        session: McpSession | None,
    ) -> None:
        event = status_event(tenant_id, installation_id, name, status, session)
        try:
            await self._events.publish(event.topic, event.to_payload())
        except Exception:  # a bus outage must not break the server itself
            log.debug("publishing the status of %s failed", name, exc_info=True)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _changed(self, tenant_id: str, installation_id: str, session: McpSession) -> None:
        if self._closing:
            return
        status = _STATE_STATUS.get(session.state, "stopped")
        error, checked = session.error, session.last_check

        async def record() -> None:
            async with self._status_lock:
                try:
                    await self._record(installation_id, status, error, checked)
                except Exception:  # the database is down: the live status still goes out
                    log.warning("recording the status of %s failed", session.name, exc_info=True)
                await self.publish(tenant_id, installation_id, session.name, status, session)

        self.spawn(record())
