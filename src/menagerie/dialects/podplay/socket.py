"""PodPlay's socket.io events (seed 000 "WebSocket Events"): connect with `auth: {token}` or
`?token=`, `mama_bear_message` answered by `mama_bear_response` (to the sender, and to the
same user's other clients in that chat session, on whichever replica they are connected: a
conversation open on a phone and a laptop shows both sides' answers), `typing_indicator`
relayed to the other clients in the same chat session, `terminal_input` run in a workspace's
terminal session whose output comes back as `terminal_output`, and `workspace_status` as
workspaces start and stop. Served by the hub (realtime/hub.py) at the server's root, on the
`/podplay` namespace and at `/podplay/socket.io`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Hashable
from typing import Any

from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.clock import iso, utcnow
from menagerie.core.errors import Invalid, MenagerieError, RateLimited
from menagerie.core.events.bus import Event
from menagerie.core.identity.models import Principal
from menagerie.core.ops.alerts import ALERT_TOPIC
from menagerie.core.ops.maintenance import MAINTENANCE_TOPIC
from menagerie.core.sandboxes import workspaces
from menagerie.core.sandboxes.events import STATUS_TOPIC as WORKSPACE_TOPIC
from menagerie.core.sandboxes.events import TERMINAL_TOPIC
from menagerie.core.tools.service import PROGRESS_TOPIC, STATUS_TOPIC
from menagerie.dialects.podplay.chat import AGENT
from menagerie.dialects.podplay.deps import CHAT
from menagerie.dialects.podplay.envelope import PodPlayEnvelope, window_text
from menagerie.platform import Platform
from menagerie.realtime import (
    maintenance,
    podplay_mcp,
    podplay_scout,
    podplay_workspaces,
    system_alerts,
)
from menagerie.realtime.hub import Connection, Handler, Hub, Refused, principal_for
from menagerie.realtime.relay import AUDIENCE, BusRelay, tenant_room, user_room

log = logging.getLogger(__name__)
ENVELOPE = PodPlayEnvelope()
SERVICES = {
    "mama_bear": True,
    "marketplace": True,
    "real_time_chat": True,
    "terminal_sessions": True,
}
# seed 000 "WebSocket Rate Limiting": terminal commands, 300 an hour and 10 a minute
TERMINAL_LIMITS = "300/hour;10/minute"


def _failure(error: MenagerieError) -> dict[str, Any]:
    """An error as the envelope spells it: a seed code, the precise reason in details."""
    code = ENVELOPE.code_for(error)
    reason = ENVELOPE.reason_of(error, code)
    return {
        "error": error.message,
        "error_code": code,
        "details": {"reason": reason} if reason else {},
    }


def chat_room(caller: Principal, session_id: str) -> str:
    """One user's clients of one chat session, joined by a message or a typing indicator in
    it: each hears the answers to the messages any of them sends. Keyed by the user, so that
    naming another user's session id never lets a client hear that user's answers."""
    return f"chat:{caller.tenant_id}:{caller.user_id}:{session_id}"


def _rate_details(error: RateLimited) -> dict[str, Any]:
    """As the seed's rate-limit example spells them."""
    return {
        "limit": error.limit,
        "window": window_text(error.window_seconds),
        "reset_at": iso(error.reset_at),
    }


class InOrder:
    """Calls under one key run one after another, in the order they began.

    socket.io runs each incoming event in a task of its own, so two commands sent back to
    back could reach a shell swapped; a turn is taken before the handler's first await."""

    def __init__(self) -> None:
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, key: Hashable) -> AsyncIterator[None]:
        previous = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        try:
            if previous is not None:
                await previous
            yield
        finally:
            mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]


class PodPlaySurface:
    """Seed 000's events, on whichever namespace and path the client came through."""

    name = "podplay"

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self.handlers: dict[str, Handler] = {
            "mama_bear_message": self._mama_bear_message,
            "typing_indicator": self._typing_indicator,
            "terminal_input": self._terminal_input,
        }
        self._terminal_policy = platform.rate_limiter.policy(
            "podplay.terminal_commands", TERMINAL_LIMITS
        )
        self._in_order = InOrder()  # a client's commands reach its shell as they were sent

    async def connect(self, connection: Connection, auth: Any) -> None:
        try:
            principal = await principal_for(self._platform.identity, connection.environ, auth)
        except MenagerieError as error:
            raise Refused(error.message, _failure(error)) from None
        connection.principal = principal
        await connection.join(tenant_room(principal.tenant_id))
        # workspace events concern one user's workspaces: only that user's clients hear them
        await connection.join(user_room(principal.tenant_id, principal.user_id))
        await connection.join(maintenance.EVERYONE)  # maintenance concerns every tenant
        await connection.emit(
            "connected",
            {
                "status": "success",
                "message": "Connected to Podplay Sanctuary",
                "client_id": connection.sid,
                "timestamp": iso(utcnow()),
                "services": SERVICES,
            },
        )
        if self._platform.maintenance is not None:
            try:
                state = await self._platform.maintenance.current()
            except MenagerieError:  # the database is down: the cached state will do
                state = self._platform.maintenance.cached
            if state.active:  # a client connecting during maintenance hears of it at once
                await connection.emit(maintenance.EVENT_NAME, maintenance.podplay_payload(state))

    async def _mama_bear_message(self, connection: Connection, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("message"), str):
            invalid = Invalid("message is required", field="message", expected="a string")
            await connection.emit("mama_bear_response", {"success": False, **_failure(invalid)})
            return
        caller = connection.user.acting_for(data.get("user_id"))
        context = data.get("context") if isinstance(data.get("context"), dict) else {}
        session_id = data.get("session_id") if isinstance(data.get("session_id"), str) else None
        if session_id:
            await connection.join(f"session:{caller.tenant_id}:{session_id}")
            await connection.join(chat_room(caller, session_id))
        try:
            if self._platform.maintenance is not None:
                await self._platform.maintenance.check(CHAT)
            done = await self._platform.agents.complete(
                caller,
                TurnRequest(
                    agent=AGENT, message=data["message"], session_id=session_id, context=context
                ),
            )
        except MenagerieError as error:
            await connection.emit("mama_bear_response", {"success": False, **_failure(error)})
            return
        agent = self._platform.agents.catalog.get(AGENT)
        answer = {
            "success": True,
            "response": done.message.content,
            "message_id": done.message.id,
            "session_id": done.message.session_id,
            "model_used": done.model,
            "timestamp": iso(done.message.created_at),
            "suggestions": agent.suggestions,
        }
        await connection.emit("mama_bear_response", answer)
        # the session may be new: the sender hears its other clients' turns in it from now on
        room = chat_room(caller, done.message.session_id)
        await connection.join(room)
        await connection.emit_room(room, "mama_bear_response", answer)  # not to the sender

    async def _typing_indicator(self, connection: Connection, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("session_id"), str):
            return
        principal = connection.user
        room = f"session:{principal.tenant_id}:{data['session_id']}"
        await connection.join(
            chat_room(principal.acting_for(data.get("user_id")), data["session_id"])
        )
        await connection.join(room)
        await connection.emit_room(
            room,
            "typing_indicator",
            {
                "user_id": data.get("user_id") or principal.user_id,
                "session_id": data["session_id"],
                "typing": bool(data.get("typing")),
            },
        )

    async def _terminal_input(self, connection: Connection, data: Any) -> None:
        """One command line for a workspace's terminal session; its output arrives as
        `terminal_output` events (through the bus, from whichever task reads the shell)."""
        fields = data if isinstance(data, dict) else {}
        session_id = fields.get("session_id")
        key = (connection.sid, session_id if isinstance(session_id, str) else None)
        async with self._in_order.turn(key):
            await self._terminal_command(connection, fields)

    async def _terminal_command(self, connection: Connection, fields: dict[str, Any]) -> None:
        session_id, workspace_id = fields.get("session_id"), fields.get("workspace_id")
        principal = connection.user
        try:
            if not isinstance(workspace_id, str) or not workspace_id:
                raise Invalid(
                    "workspace_id is required",
                    field="workspace_id",
                    expected="a workspace id",
                    missing=workspace_id is None,
                )
            await self._platform.rate_limiter.hit(
                self._terminal_policy, f"{principal.tenant_id}:{principal.user_id}"
            )
            await self._platform.terminals.send(
                principal,
                workspace_id,
                session_id,
                fields.get("command"),
                kinds=workspaces.KINDS,
            )
        except MenagerieError as error:
            # a refusal reaches the sender only, as a terminal_output of type `error`
            await connection.emit(
                "terminal_output",
                {
                    "session_id": session_id if isinstance(session_id, str) else None,
                    "workspace_id": workspace_id if isinstance(workspace_id, str) else None,
                    "output": error.message,
                    "output_type": "error",
                    "timestamp": iso(utcnow()),
                    "success": False,
                    **_failure(error),
                    **({"details": _rate_details(error)} if isinstance(error, RateLimited) else {}),
                },
            )

    def relay(self, hub: Hub) -> BusRelay:
        """MCP status and installation progress, system alerts (the operator's), to the
        tenant's PodPlay clients; a workspace's status and terminal output, a Scout project's
        progress and deployments, to its owner's."""

        async def deliver(tenant_id: str, event: str, payload: dict[str, Any]) -> None:
            audience = payload.pop(AUDIENCE, None)
            room = (
                user_room(*audience)
                if audience is not None
                else maintenance.EVERYONE
                if event == maintenance.EVENT_NAME
                else tenant_room(tenant_id)
            )
            await hub.emit_local(self.name, room, event, payload)

        def shape(event: Event) -> dict[str, Any] | None:
            if event.topic == ALERT_TOPIC:
                return system_alerts.podplay(event)
            if event.topic == MAINTENANCE_TOPIC:
                return maintenance.podplay(event)
            if event.topic in (WORKSPACE_TOPIC, TERMINAL_TOPIC):
                return podplay_workspaces.shape(event)
            if event.topic in podplay_scout.EVENT_NAMES:
                return podplay_scout.shape(event)
            return podplay_mcp.shape(event)

        return BusRelay(
            self._platform.events,
            deliver,
            {
                STATUS_TOPIC: "mcp_server_status",
                PROGRESS_TOPIC: "mcp_installation_progress",
                ALERT_TOPIC: "system_alert",
                **maintenance.EVENT_NAMES,
                **podplay_workspaces.EVENT_NAMES,
                **podplay_scout.EVENT_NAMES,
            },
            shape=shape,
        )
