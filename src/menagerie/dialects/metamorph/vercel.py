"""Metamorph `/api/vercel/auth/*`: connect a vault to a Vercel account with OAuth.

`url` hands out the authorization URL (state and PKCE kept server-side), `callback` is where
Vercel sends the user back (public: a browser redirect carries no credentials; the state names
the vault), `disconnect` and `status` are the vault's own. No response ever carries a token.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from menagerie.core.clock import iso
from menagerie.core.errors import Invalid
from menagerie.core.identity.oauth import Connection, ConnectionEvent
from menagerie.core.identity.oauth.service import check_url
from menagerie.dialects.metamorph.deps import CurrentVault, OptionalVault, PlatformDep

PROVIDER = "vercel"

router = APIRouter(prefix="/api/vercel/auth", tags=["vercel"])


class AuthUrlBody(BaseModel):
    url: str
    state: str
    expiresIn: int
    scopes: list[str]


class CallbackBody(BaseModel):
    success: bool = True
    vercelUserId: str | None
    teamId: str | None
    scopes: list[str]


class DisconnectRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    connectionId: str | None = Field(None, max_length=64)


class DisconnectBody(BaseModel):
    success: bool = True
    disconnectedAt: str


class ActiveConnectionBody(BaseModel):
    id: str
    vercelUserId: str | None
    teamId: str | None
    scopes: list[str]
    status: str
    tokenExpired: bool
    tokenExpiresAt: str | None
    createdAt: str
    updatedAt: str


class HistoryEntryBody(BaseModel):
    id: str
    status: str
    createdAt: str
    updatedAt: str
    disconnectedAt: str | None


class EventBody(BaseModel):
    event: str  # connected | disconnected | refreshed | failed
    connectionId: str | None
    detail: str | None
    createdAt: str


class StatusBody(BaseModel):
    connected: bool
    activeConnection: ActiveConnectionBody | None
    connectionHistory: list[HistoryEntryBody]
    # not in seed 003: what happened, including failed attempts that left no connection
    events: list[EventBody]


def _iso(moment: datetime) -> str:
    text = iso(moment)
    assert text is not None
    return text


def _active(connection: Connection) -> ActiveConnectionBody:
    return ActiveConnectionBody(
        id=connection.id,
        vercelUserId=connection.external_user_id,
        teamId=connection.team_id,
        scopes=list(connection.scopes),
        status=connection.status,
        tokenExpired=connection.token_expired,
        tokenExpiresAt=iso(connection.token_expires_at),
        createdAt=_iso(connection.created_at),
        updatedAt=_iso(connection.updated_at),
    )


def _history(connection: Connection) -> HistoryEntryBody:
    return HistoryEntryBody(
        id=connection.id,
        status=connection.status,
        createdAt=_iso(connection.created_at),
        updatedAt=_iso(connection.updated_at),
        disconnectedAt=iso(connection.disconnected_at),
    )


def _event(event: ConnectionEvent) -> EventBody:
    return EventBody(
        event=event.event,
        connectionId=event.connection_id,
        detail=event.detail,
        createdAt=_iso(event.created_at),
    )


def _own_callback(request: Request) -> str:
    """This server's callback, as the client reached `/url` (a sibling path; the same under
    any mount), for when no redirect URI is configured."""
    path = request.url.path.rsplit("/", 1)[0] + "/callback"
    return str(request.url.replace(path=path, query="", fragment=""))


@router.get("/url")
async def authorization_url(
    request: Request,
    vault: CurrentVault,
    platform: PlatformDep,
    redirect_uri: str | None = Query(None, max_length=2000, description="custom callback URL"),
) -> AuthUrlBody:
    auth = await platform.oauth.authorization_url(
        vault.principal,
        PROVIDER,
        redirect_uri=redirect_uri or None,
        default_redirect_uri=_own_callback(request),
    )
    return AuthUrlBody(
        url=auth.url, state=auth.state, expiresIn=auth.expires_in, scopes=list(auth.scopes)
    )


@router.get("/callback", response_model=CallbackBody)
async def callback(
    platform: PlatformDep,
    vault: OptionalVault,
    code: str | None = Query(None, max_length=2048),
    state: str | None = Query(None, max_length=512),
    success_url: str | None = Query(None, max_length=2000),
    error: str | None = Query(None, max_length=200, description="set by Vercel on refusal"),
    error_description: str | None = Query(None, max_length=500),
) -> CallbackBody | RedirectResponse:
    if success_url:
        # checked before the state is spent, so that a bad URL does not cost the attempt
        check_url(success_url, field="success_url")
    # credentials are optional here; when present, the state must be this vault's
    principal = vault.principal if vault is not None else None
    if error:
        await platform.oauth.deny(
            PROVIDER, state=state, error=error, description=error_description, principal=principal
        )
        raise Invalid(
            f"Vercel authorization was refused: {error}",
            reason="AUTHORIZATION_DENIED",
            field="error",
            received=error,
        )
    connection = await platform.oauth.complete(
        PROVIDER, state=state, code=code, principal=principal
    )
    if success_url:
        return RedirectResponse(success_url, status_code=302)
    return CallbackBody(
        vercelUserId=connection.external_user_id,
        teamId=connection.team_id,
        scopes=list(connection.scopes),
    )


@router.delete("/disconnect")
async def disconnect(
    vault: CurrentVault,
    platform: PlatformDep,
    body: DisconnectRequest | None = Body(None),
) -> DisconnectBody:
    at = await platform.oauth.disconnect(
        vault.principal, PROVIDER, body.connectionId if body is not None else None
    )
    return DisconnectBody(disconnectedAt=_iso(at))


@router.get("/status")
async def status(vault: CurrentVault, platform: PlatformDep) -> StatusBody:
    result = await platform.oauth.status(vault.principal, PROVIDER)
    return StatusBody(
        connected=result.connected,
        activeConnection=_active(result.active) if result.active is not None else None,
        connectionHistory=[_history(c) for c in result.history],
        events=[_event(e) for e in result.events],
    )
