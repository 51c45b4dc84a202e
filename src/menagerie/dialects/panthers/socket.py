"""Panthers WebSockets (seed 002 "WebSocket API"), authenticated with `?token=<jwt>`.

- `/ws` at the orchestrator, where the seed documents it: `subscribe` to an NFT's deployment
  updates, and `chat_stream` with any agent the caller is signed in for.
- `/agents/{nft_token_id}/ws` on each agent's own API: the same, for that NFT only.

`chat_stream` carries the `message` to answer (the seed's example names only the
conversation); the answer streams back as `chat_chunk`s. `subscribe` is acknowledged with
`subscribed`, followed by the NFT's deployment as it is now (if it has one), then every
`deployment_status` published on the bus for that NFT as the deployment moves. Errors are the
REST envelope, `{"type": "error", "error": {"code", …}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from menagerie.core.chat.nft import NftAgents
from menagerie.core.deployments.service import TOPIC as DEPLOYMENT_TOPIC
from menagerie.core.errors import (
    CredentialsMissing,
    Forbidden,
    Internal,
    Invalid,
    MalformedRequest,
    MenagerieError,
    NotFound,
)
from menagerie.core.events.bus import Subscription
from menagerie.core.identity.models import Principal
from menagerie.core.identity.wallet import siwe
from menagerie.core.ids import new_id
from menagerie.dialects.panthers import streaming
from menagerie.dialects.panthers.deps import nft_agents_of
from menagerie.dialects.panthers.envelope import PanthersEnvelope
from menagerie.dialects.panthers.schemas import (
    ChatStreamRequest,
    DeploymentStatus,
    SocketError,
    Subscribed,
    SubscribeRequest,
)
from menagerie.http.errors import from_validation_error
from menagerie.http.middleware import request_id_of
from menagerie.platform import Platform

log = logging.getLogger(__name__)
router = APIRouter(tags=["websocket"])
ENVELOPE = PanthersEnvelope()
SUBSCRIBED = (
    "subscribed to deployment updates for NFT #{nft}: each deployment_status is sent as it happens"
)
REQUESTS: dict[str, type[BaseModel]] = {
    "subscribe": SubscribeRequest,
    "chat_stream": ChatStreamRequest,
}


@router.websocket("/ws")
async def orchestrator_socket(websocket: WebSocket) -> None:
    await _serve(websocket, fixed_nft=None)


@router.websocket("/agents/{nft_token_id}/ws")
async def agent_socket(websocket: WebSocket, nft_token_id: str) -> None:
    await _serve(websocket, fixed_nft=nft_token_id)


async def _serve(websocket: WebSocket, *, fixed_nft: str | None) -> None:
    platform: Platform = websocket.app.state.platform
    try:
        principal = await _authenticate(websocket, platform, fixed_nft)
    except MenagerieError as error:
        log.info("panthers socket refused: %s", error.reason)
        await _refuse(websocket, error)
        return
    await websocket.accept()
    connection = _Connection(websocket, platform, principal, fixed_nft)
    platform.metrics.connection("websocket", "panthers", 1)
    try:
        await connection.run()
    except WebSocketDisconnect:
        pass
    finally:
        platform.metrics.connection("websocket", "panthers", -1)
        await connection.close()


async def _authenticate(
    websocket: WebSocket, platform: Platform, fixed_nft: str | None
) -> Principal:
    token = websocket.query_params.get("token")
    if not token:
        raise CredentialsMissing("connect with ?token=<access token from POST /auth/verify>")
    principal = await platform.identity.authenticate_bearer(token)
    if fixed_nft is not None:
        await platform.wallets.authorize_agent(principal, siwe.token_id(fixed_nft))
    return principal


async def _refuse(websocket: WebSocket, error: MenagerieError) -> None:
    """Refused before the handshake completes: an HTTP answer in the envelope where the
    server can send one (the WebSocket Denial Response extension), else a policy close."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(ENVELOPE.render(error, _request_id(websocket)))
    else:
        await websocket.close(code=1008, reason=ENVELOPE.code_for(error))


def _request_id(websocket: WebSocket) -> str:
    found = request_id_of(websocket.scope)
    return found if found != "-" else new_id("req")


class _Connection:
    def __init__(
        self, websocket: WebSocket, platform: Platform, principal: Principal, fixed: str | None
    ) -> None:
        self.websocket = websocket
        self.platform = platform
        self.principal = principal
        self.fixed_nft = siwe.token_id(fixed) if fixed is not None else None
        self.agents: NftAgents = nft_agents_of(platform)
        self.request_id = _request_id(websocket)
        self.watched: set[str] = set()  # NFTs whose deployment updates this socket hears
        self._send_lock = asyncio.Lock()  # the relay and the chat stream share one socket
        self._subscription: Subscription | None = None
        self._relay: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            text = await self.websocket.receive_text()
            try:
                await self._handle(text)
            except WebSocketDisconnect:
                raise
            except MenagerieError as error:
                await self._send_error(error)
            except Exception:
                log.exception("panthers socket: unexpected error")
                await self._send_error(Internal("internal server error"))

    async def _handle(self, text: str) -> None:
        try:
            raw = json.loads(text)
        except ValueError:
            raise MalformedRequest(
                "a message must be a JSON object", field="message", expected="JSON"
            ) from None
        kind = raw.get("type") if isinstance(raw, dict) else None
        model = REQUESTS.get(kind) if isinstance(kind, str) else None
        if model is None:
            raise MalformedRequest(
                f"unknown message type: send one of {', '.join(REQUESTS)}",
                field="type",
                received=kind if isinstance(kind, str) else None,
                expected=" | ".join(REQUESTS),
                reason="UNKNOWN_MESSAGE_TYPE",
            )
        try:
            request = model.model_validate(raw)
        except ValidationError as exc:
            raise from_validation_error(RequestValidationError(exc.errors())) from None
        if isinstance(request, SubscribeRequest):
            await self._subscribe(request)
        elif isinstance(request, ChatStreamRequest):
            await self._chat(request)

    async def _nft_for(self, requested: str | int | None) -> str:
        """The NFT a request is about: the one named, else the socket's or the session's."""
        nft = siwe.token_id(requested) if requested is not None else None
        if self.fixed_nft is not None:
            if nft is not None and nft != self.fixed_nft:
                raise Forbidden(
                    f"this socket belongs to agent {self.fixed_nft}",
                    reason="NFT_MISMATCH",
                    details={"nft_token_id": nft},
                )
            return self.fixed_nft
        if nft is None:
            identity = await self.platform.wallets.identity(self.principal)
            if identity is None:
                raise Invalid(
                    "name the agent: this credential is not signed in for an NFT",
                    field="nft_token_id",
                    missing=True,
                )
            nft = identity.nft_token_id
        await self.platform.wallets.authorize_agent(self.principal, nft)
        return nft

    # -- subscribe ----------------------------------------------------------------------------

    async def _subscribe(self, request: SubscribeRequest) -> None:
        nft = await self._nft_for(request.nft_token_id)
        await self.platform.deployments.authorize(self.principal, nft)  # still its holder
        if self._subscription is None:
            self._subscription = await self.platform.events.subscribe(DEPLOYMENT_TOPIC)
            self._relay = asyncio.create_task(self._forward(self._subscription))
        self.watched.add(nft)
        await self._send(Subscribed(nft_token_id=nft, message=SUBSCRIBED.format(nft=nft)))
        try:
            now = await self.platform.deployments.get(self.principal, nft)
        except NotFound:
            return
        await self._send(
            DeploymentStatus(
                deployment_id=now.id,
                status=now.status,
                progress=50 if now.status == "deploying" else 100,
                message=now.message,
            )
        )

    async def _forward(self, subscription: Subscription) -> None:
        async for event in subscription:
            payload = event.payload
            if payload.get("tenant_id") != self.principal.tenant_id:
                continue
            if str(payload.get("nft_token_id")) not in self.watched:
                continue
            try:
                update = DeploymentStatus.model_validate(
                    {k: v for k, v in payload.items() if k in DeploymentStatus.model_fields}
                    | {"type": "deployment_status"}
                )
            except ValidationError:
                log.warning("a deployment update without the seed's fields was dropped")
                continue
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self._send(update)

    # -- chat_stream --------------------------------------------------------------------------

    async def _chat(self, request: ChatStreamRequest) -> None:
        nft = await self._nft_for(request.nft_token_id)
        events = streaming.turn(
            self.platform,
            self.agents,
            self.principal,
            nft,
            request.message,
            request.conversation_id,
        )
        async for event in events:
            item = streaming.chunk(event)
            if item is not None:
                await self._send_json(streaming.wire(item))

    # -- sending ------------------------------------------------------------------------------

    async def _send(self, message: BaseModel) -> None:
        await self._send_json(message.model_dump(mode="json"))

    async def _send_json(self, payload: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_json(payload)

    async def _send_error(self, error: MenagerieError) -> None:
        code = ENVELOPE.code_for(error)
        body = ENVELOPE.body(
            error, code=code, status=ENVELOPE.status_for(error, code), request_id=self.request_id
        )
        await self._send(SocketError.model_validate({"type": "error", **body}))

    async def close(self) -> None:
        if self._relay is not None:
            self._relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay
        if self._subscription is not None:
            await self.platform.events.unsubscribe(self._subscription)
