"""One long-lived MCP session per running server, owned by one task.

The SDK's transports live inside anyio cancel scopes that must be entered and left by the same
task, so a single owner task opens the session, watches health, and reopens it with backoff
when the server dies. Requests are sent from the callers' own tasks, straight through the
open client: its dispatcher multiplexes concurrent requests on the one session, so a call
costs no hand-off to the owner and back (that hand-off was half of what a call cost). Each
call's cancel scope is registered with the session, and the session's end cancels every one
still in flight, so that no caller waits on a session that is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from time import monotonic
from typing import Any, Literal, TypeVar

import anyio
import mcp.types as mcp_types
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ListenNotSupportedError
from mcp.shared.exceptions import MCPError

from menagerie.core.clock import utcnow
from menagerie.core.errors import MenagerieError, Timeout
from menagerie.core.redact import Redactor
from menagerie.core.tools.failures import offline_error, tool_error
from menagerie.core.tools.local_server import local_http_server
from menagerie.core.tools.models import LaunchPlan, ServerMetrics, ToolInfo, ToolResult
from menagerie.core.tools.sandboxing import Isolation, SandboxedCommand
from menagerie.core.tools.stderr import StderrTail
from menagerie.core.tools.urlguard import guarded_http_client

log = logging.getLogger(__name__)

SessionState = Literal["starting", "running", "offline", "stopped"]
StateListener = Callable[["McpSession"], None]
MAX_BACKOFF_S = 30.0
CONNECTION_CLOSED = mcp_types.CONNECTION_CLOSED  # the SDK's code for a transport gone
_T = TypeVar("_T")


class SessionLost(Exception):
    """The transport under the session went away; the owner reopens it."""


class McpSession:
    def __init__(
        self,
        name: str,
        plan: LaunchPlan,
        *,
        redactor: Redactor,
        connect_timeout_s: float = 20.0,
        health_interval_s: float = 30.0,
        on_change: StateListener | None = None,
        sandboxed: SandboxedCommand | None = None,
        allow_private_urls: bool = False,
    ) -> None:
        self.name = name
        self.plan = plan  # how the server itself starts (what exports show)
        self.sandboxed = sandboxed  # what starts instead: the sandbox around the plan
        self._redactor = redactor
        # a remote URL is checked again at each connection (DNS rebinding: urlguard.py)
        self.allow_private_urls = allow_private_urls
        self.connect_timeout_s = connect_timeout_s
        self.health_interval_s = health_interval_s
        self._on_change = on_change
        self.state: SessionState = "stopped"
        self.error: str | None = None
        self.tools: list[ToolInfo] = []
        self.secrets: list[str] = []  # what its configuration holds: masked in its results
        self.call_timeout_s = 30.0  # its installation's `timeout`: applied to each tool call
        self.connected_at: float | None = None
        self.last_check: datetime | None = None
        self.last_response_ms: float | None = None
        self.restarts = 0
        self._requests = 0
        self._errors = 0
        self._total_ms = 0.0
        # set while running: the open client, and what a caller sets when it finds it broken
        self._client: Client | None = None
        self._lost: asyncio.Event | None = None
        self._in_flight: set[anyio.CancelScope] = set()
        self._owner: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._tools_changed = asyncio.Event()
        self.stderr = StderrTail(name, redactor)
        self._process: asyncio.subprocess.Process | None = None

    # -- the API other tasks call ------------------------------------------------------------

    async def start(self) -> None:
        """Start the owner task and wait for its first connection attempt (bounded)."""
        if self._owner is not None and not self._owner.done():
            return
        self._stopping.clear()
        self._first_attempt.clear()
        self._set_state("starting")
        self._owner = asyncio.create_task(self._own(), name=f"mcp-session-{self.name}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), self.connect_timeout_s + 5)

    async def stop(self) -> None:
        self._stopping.set()
        owner, self._owner = self._owner, None
        if owner is not None:
            try:
                await asyncio.wait_for(asyncio.shield(owner), self.connect_timeout_s)
            except TimeoutError:
                owner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await owner
        self._end_calls()
        self._set_state("stopped")

    async def call_tool(
        self, tool: str, arguments: dict[str, Any], *, timeout_s: float = 30.0
    ) -> ToolResult:
        return await self._request(self._call, timeout_s, tool, arguments)

    async def refresh_tools(self) -> list[ToolInfo]:
        self.tools = await self._request(self._list_tools, 15.0)
        return self.tools

    async def check(self) -> float:
        """A real round trip (a fresh `tools/list`); returns its milliseconds."""
        started = monotonic()
        self.tools = await self._request(self._list_tools, 15.0)
        self.last_response_ms = round((monotonic() - started) * 1000, 2)
        self.last_check = utcnow()
        return self.last_response_ms

    @property
    def isolation(self) -> Isolation:
        return self.sandboxed.isolation if self.sandboxed is not None else "none"

    def tool(self, name: str) -> ToolInfo | None:
        return next((t for t in self.tools if t.name == name), None)

    def metrics(self) -> ServerMetrics:
        uptime = monotonic() - self.connected_at if self.connected_at is not None else 0.0
        average = self._total_ms / self._requests if self._requests else 0.0
        return ServerMetrics(round(uptime, 3), self._requests, self._errors, round(average, 2))

    # -- the owner task ------------------------------------------------------------------------

    async def _request(
        self, send: Callable[..., Awaitable[_T]], timeout_s: float, *args: Any
    ) -> _T:
        """`send(client, *args)` on the open session, from the caller's task and within
        `timeout_s`; what goes wrong comes out as Menagerie's errors (offline, timeout,
        tool error), and a broken transport tells the owner to reconnect."""
        client, lost = self._client, self._lost
        if self.state != "running" or client is None or lost is None:
            raise offline_error(self.name, self.error)
        started = monotonic()
        scope = anyio.CancelScope(deadline=anyio.current_time() + timeout_s)
        self._in_flight.add(scope)
        failed = True
        try:
            with scope:
                result = await send(client, *args)
                failed = isinstance(result, ToolResult) and result.is_error
                return result
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                raise tool_error(self.name, exc) from None
            raise self._lose(lost, "the MCP server closed the connection") from None
        except Exception as exc:
            raise self._lose(lost, self._describe(exc)) from None
        finally:
            self._in_flight.discard(scope)
            self._account(started, failed=failed)
        # here only when the scope stopped the call: its deadline, or the session's end
        if anyio.current_time() >= scope.deadline:
            message = f"MCP server {self.name} took longer than {timeout_s:g}s"
            raise Timeout(message, reason="TOOL_TIMEOUT")
        raise offline_error(self.name, "the session was closed")

    def _lose(self, lost: asyncio.Event, error: str) -> MenagerieError:
        """A call found the transport broken: the owner reconnects, the caller hears offline."""
        if lost is self._lost:  # not a session already replaced by a newer one
            self.error = error
            lost.set()
        return offline_error(self.name, error)

    async def _own(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                await self._session_lifetime()
                attempt = 0
            except Exception as exc:  # every failure of a session ends in a reconnect
                self.error = self._describe(exc)
                log.warning("MCP server %s: %s", self.name, self.error)
                log.debug("MCP server %s failure", self.name, exc_info=True)
            finally:
                self.connected_at = None
                self._first_attempt.set()
            if self._stopping.is_set():
                break
            self._set_state("offline")
            delay = min(MAX_BACKOFF_S, 0.25 * 2**attempt)
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if not self._stopping.is_set():
                self.restarts += 1
                self._set_state("starting")

    async def _session_lifetime(self) -> None:
        # one scope around the whole lifetime, its deadline lifted once connected: a deadline
        # scope closed while the SDK's own scopes are still open would break their nesting
        lost = asyncio.Event()
        with anyio.CancelScope(deadline=anyio.current_time() + self.connect_timeout_s) as scope:
            async with self._open() as client:
                started = monotonic()
                self.tools = await self._list_tools(client)
                # the first listing is the first health check: its round trip is measured too
                self.last_response_ms = round((monotonic() - started) * 1000, 2)
                scope.deadline = math.inf
                self.connected_at = monotonic()
                self.last_check = utcnow()
                self.error = None
                self._client, self._lost = client, lost
                try:
                    self._set_state("running")
                    self._first_attempt.set()
                    async with anyio.create_task_group() as group:
                        group.start_soon(self._watch_health, client, lost)
                        group.start_soon(self._watch_process, lost)
                        group.start_soon(self._listen_for_changes, client)
                        await self._until_stopped_or(lost)
                        group.cancel_scope.cancel()
                finally:
                    # before the transport closes: a caller hears that the session ended,
                    # and its courtesy cancel can still reach the server
                    self._end_calls()
        if scope.cancelled_caught:
            raise TimeoutError(f"no answer within {self.connect_timeout_s:g}s of starting")
        if lost.is_set() and not self._stopping.is_set():
            raise SessionLost(self.error or "the connection to the MCP server was lost")

    async def _until_stopped_or(self, lost: asyncio.Event) -> None:
        stopper = asyncio.ensure_future(self._stopping.wait())
        loser = asyncio.ensure_future(lost.wait())
        try:
            await asyncio.wait({stopper, loser}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            loser.cancel()

    def _end_calls(self) -> None:
        """No new call reaches this session; those in flight end now (offline), not at their
        own timeouts."""
        self._client = self._lost = None
        for scope in list(self._in_flight):
            scope.cancel()

    @contextlib.asynccontextmanager
    async def _open(self) -> AsyncIterator[Client]:
        plan = self.plan
        if plan.transport == "stdio":
            assert plan.command is not None
            sandboxed = self.sandboxed
            if sandboxed is not None:
                # the sandbox changes into the server's directory and sets its environment
                params = StdioServerParameters(
                    command=sandboxed.command, args=sandboxed.args, env=sandboxed.env, cwd="/"
                )
            else:
                params = StdioServerParameters(
                    command=plan.command, args=list(plan.args), env=plan.env, cwd=plan.cwd
                )
            async with (
                self.stderr.pipe() as errlog,
                Client(stdio_client(params, errlog=errlog), message_handler=self._notified) as c,
            ):
                yield c
            return
        assert plan.url is not None
        if plan.local_http:
            async with local_http_server(plan, self.stderr) as process:
                self._process = process
                try:
                    async with self._http_client(plan) as client:
                        yield client
                finally:
                    self._process = None
            return
        async with self._http_client(plan) as client:
            yield client

    @contextlib.asynccontextmanager
    async def _http_client(self, plan: LaunchPlan) -> AsyncIterator[Client]:
        assert plan.url is not None
        # each connection to an address checked then (a server we started is on loopback)
        factory = functools.partial(
            guarded_http_client, allow_private=self.allow_private_urls or plan.local_http
        )
        if plan.transport == "sse":  # the deprecated HTTP+SSE transport, still widely served
            transport = sse_client(
                plan.url, headers=plan.headers, timeout=30.0, httpx_client_factory=factory
            )
            async with Client(transport, message_handler=self._notified) as client:
                yield client
            return
        async with (
            factory(headers=plan.headers) as http,  # 30 s, and 300 s to read a stream
            Client(
                streamable_http_client(plan.url, http_client=http),
                message_handler=self._notified,
            ) as client,
        ):
            yield client

    async def _watch_process(self, lost: asyncio.Event) -> None:
        process = self._process
        if process is None:
            return
        code = await process.wait()
        self.error = f"the MCP server process exited with code {code}"
        lost.set()

    async def _listen_for_changes(self, client: Client) -> None:
        """Servers on the 2026-07-28 protocol announce tool-list changes on a subscription;
        older ones send a notification (`_notified`). Either wakes the tool-list refresh."""
        try:
            async with client.listen(tools_list_changed=True) as changes:
                async for _ in changes:
                    self._tools_changed.set()
        except ListenNotSupportedError:
            return  # an older server: its notifications arrive through `_notified`
        except Exception as exc:  # a lost subscription: health checks still refresh the list
            log.debug("MCP server %s: no change subscription: %s", self.name, exc)

    async def _notified(self, message: Any) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            self._tools_changed.set()
        elif isinstance(message, Exception):
            log.debug("MCP server %s sent an error: %s", self.name, self._describe(message))

    async def _watch_health(self, client: Client, lost: asyncio.Event) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._tools_changed.wait(), self.health_interval_s)
            self._tools_changed.clear()
            try:
                with anyio.fail_after(15):
                    started = monotonic()
                    self.tools = await self._list_tools(client)
                self.last_response_ms = round((monotonic() - started) * 1000, 2)
                self.last_check = utcnow()
                self._set_state("running")
            except Exception as exc:
                self.error = f"health check failed: {self._describe(exc)}"
                self.last_check = utcnow()
                lost.set()
                return

    async def _call(self, client: Client, tool: str, arguments: dict[str, Any]) -> ToolResult:
        started = monotonic()
        result = await client.call_tool(tool, arguments)
        if result.structured_content is not None:
            content: Any = result.structured_content
        else:
            content = [block.model_dump(mode="json", exclude_none=True) for block in result.content]
        return ToolResult(
            server=self.name,
            tool=tool,
            content=content,
            is_error=bool(result.is_error),
            duration_ms=round((monotonic() - started) * 1000, 2),
        )

    async def _list_tools(self, client: Client) -> list[ToolInfo]:
        tools: list[ToolInfo] = []
        cursor: str | None = None
        for _ in range(50):  # a bound on pages: a server that pages forever is broken
            page = await client.list_tools(cursor=cursor, cache_mode="refresh")
            tools.extend(
                ToolInfo(self.name, t.name, t.description or "", dict(t.input_schema))
                for t in page.tools
            )
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    def _account(self, started: float, *, failed: bool) -> None:
        self._requests += 1
        self._total_ms += (monotonic() - started) * 1000
        if failed:
            self._errors += 1

    def _set_state(self, state: SessionState) -> None:
        if state == self.state:
            return
        self.state = state
        if self._on_change is not None:
            try:
                self._on_change(self)
            except Exception:
                log.exception("MCP state listener failed")

    def _describe(self, exc: BaseException) -> str:
        while isinstance(exc, BaseExceptionGroup):
            exc = exc.exceptions[0]
        text = str(exc) or type(exc).__name__
        tail = self.stderr.last()
        if tail:
            text = f"{text} (stderr: {tail})"
        return self._redactor(text)[:500]
