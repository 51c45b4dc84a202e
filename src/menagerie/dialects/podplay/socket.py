"""PodPlay's socket.io events (seed 000 "WebSocket Events"): connect with `auth: {token}` or
`?token=`, `mama_bear_message` answered by `mama_bear_response`, `typing_indicator` relayed
to the other clients in the same chat session."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

import socketio

from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.clock import iso, utcnow
from menagerie.core.errors import CredentialsMissing, Invalid, MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.core.tools.service import PROGRESS_TOPIC, STATUS_TOPIC
from menagerie.dialects.podplay.chat import AGENT
from menagerie.dialects.podplay.envelope import PodPlayEnvelope
from menagerie.platform import Platform
from menagerie.realtime import podplay_mcp
from menagerie.realtime.relay import BusRelay, tenant_room

log = logging.getLogger(__name__)
ENVELOPE = PodPlayEnvelope()
SERVICES = {
    "mama_bear": True,
    "marketplace": True,
    "real_time_chat": True,
    "terminal_sessions": False,
}


def _token(environ: dict[str, Any], auth: Any) -> str | None:
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return auth["token"]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    return (query.get("token") or [None])[0]


def _failure(error: MenagerieError) -> dict[str, Any]:
    """An error as the envelope spells it: a seed code, the precise reason in details."""
    code = ENVELOPE.code_for(error)
    reason = ENVELOPE.reason_of(error, code)
    return {
        "error": error.message,
        "error_code": code,
        "details": {"reason": reason} if reason else {},
    }


def register(sio: socketio.AsyncServer, platform: Platform) -> BusRelay:
    """Register the events; the relay returned (started by the app) carries MCP events."""

    async def principal_of(sid: str) -> Principal:
        session = await sio.get_session(sid)
        principal: Principal = session["principal"]
        return principal

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = _token(environ, auth)
        try:
            if token:
                principal = await platform.identity.authenticate_bearer(token)
            elif platform.identity.dev_mode:
                principal = platform.identity.dev_principal()
            else:
                raise CredentialsMissing("authentication required")
        except MenagerieError as error:
            raise ConnectionRefusedError(_failure(error)) from None
        await sio.save_session(sid, {"principal": principal})
        await sio.enter_room(sid, tenant_room(principal.tenant_id))
        await sio.emit(
            "connected",
            {
                "status": "success",
                "message": "Connected to Podplay Sanctuary",
                "client_id": sid,
                "timestamp": iso(utcnow()),
                "services": SERVICES,
            },
            to=sid,
        )

    @sio.on("mama_bear_message")
    async def mama_bear_message(sid: str, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("message"), str):
            invalid = Invalid("message is required", field="message", expected="a string")
            await sio.emit("mama_bear_response", {"success": False, **_failure(invalid)}, to=sid)
            return
        caller = (await principal_of(sid)).acting_for(data.get("user_id"))
        context = data.get("context") if isinstance(data.get("context"), dict) else {}
        session_id = data.get("session_id") if isinstance(data.get("session_id"), str) else None
        if session_id:
            await sio.enter_room(sid, f"session:{caller.tenant_id}:{session_id}")
        try:
            done = await platform.agents.complete(
                caller,
                TurnRequest(
                    agent=AGENT, message=data["message"], session_id=session_id, context=context
                ),
            )
        except MenagerieError as error:
            await sio.emit("mama_bear_response", {"success": False, **_failure(error)}, to=sid)
            return
        agent = platform.agents.catalog.get(AGENT)
        await sio.emit(
            "mama_bear_response",
            {
                "success": True,
                "response": done.message.content,
                "message_id": done.message.id,
                "session_id": done.message.session_id,
                "model_used": done.model,
                "timestamp": iso(done.message.created_at),
                "suggestions": agent.suggestions,
            },
            to=sid,
        )

    @sio.on("typing_indicator")
    async def typing_indicator(sid: str, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("session_id"), str):
            return
        principal = await principal_of(sid)
        room = f"session:{principal.tenant_id}:{data['session_id']}"
        await sio.enter_room(sid, room)
        await sio.emit(
            "typing_indicator",
            {
                "user_id": data.get("user_id") or principal.user_id,
                "session_id": data["session_id"],
                "typing": bool(data.get("typing")),
            },
            room=room,
            skip_sid=sid,
        )

    return BusRelay(
        platform.events,
        sio,
        {STATUS_TOPIC: "mcp_server_status", PROGRESS_TOPIC: "mcp_installation_progress"},
        shape=podplay_mcp.shape,
    )
