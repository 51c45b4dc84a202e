"""Metamorph `/api/vercel/auth/*`: connect a vault to a Vercel account with OAuth.

`url` hands out the authorization URL (state and PKCE kept server-side), `callback` is where
Vercel sends the user back (public: a browser redirect carries no credentials; the state names
the vault), `disconnect` and `status` are the vault's own. No response ever carries a token.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import RedirectResponse

from menagerie.core.clock import iso
from menagerie.core.identity.oauth import Connection, ConnectionEvent
from menagerie.dialects.metamorph.deps import CurrentVault, OptionalVault, PlatformDep
from menagerie.dialects.metamorph.schemas import (
    ActiveConnection,
    AuthUrl,
    CallbackResult,
    ConnectionEventBody,
    ConnectionStatusBody,
    Disconnected,
    DisconnectRequest,
    HistoryEntry,
)
from menagerie.http.openapi import errors

PROVIDER = "vercel"

router = APIRouter(prefix="/api/vercel/auth", tags=["vercel"])


def _iso(moment: datetime) -> str:
    text = iso(moment)
    assert text is not None
    return text


def _active(connection: Connection) -> ActiveConnection:
    return ActiveConnection(
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


def _history(connection: Connection) -> HistoryEntry:
    return HistoryEntry(
        id=connection.id,
        status=connection.status,
        createdAt=_iso(connection.created_at),
        updatedAt=_iso(connection.updated_at),
        disconnectedAt=iso(connection.disconnected_at),
    )


def _event(event: ConnectionEvent) -> ConnectionEventBody:
    return ConnectionEventBody(
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


def _origin(request: Request) -> str:
    return str(request.url.replace(path="/", query="", fragment=""))


@router.get("/url", response_model=AuthUrl, responses=errors(503))
async def authorization_url(
    request: Request,
    vault: CurrentVault,
    platform: PlatformDep,
    redirect_uri: str | None = Query(None, max_length=2000, description="custom callback URL"),
) -> AuthUrl:
    auth = await platform.oauth.authorization_url(
        vault.principal,
        PROVIDER,
        redirect_uri=redirect_uri or None,
        default_redirect_uri=_own_callback(request),
    )
    return AuthUrl(
        url=auth.url, state=auth.state, expiresIn=auth.expires_in, scopes=list(auth.scopes)
    )


@router.get(
    "/callback",
    response_model=CallbackResult,
    responses={
        302: {"description": "Connected; the browser goes on to `success_url`"},
        **errors(503),
    },
)
async def callback(
    request: Request,
    platform: PlatformDep,
    vault: OptionalVault,
    code: str | None = Query(None, max_length=2048),
    state: str | None = Query(None, max_length=512),
    success_url: str | None = Query(None, max_length=2000),
    error: str | None = Query(None, max_length=200, description="set by Vercel on refusal"),
    error_description: str | None = Query(None, max_length=500),
) -> CallbackResult | RedirectResponse:
    connection = await platform.oauth.callback(
        PROVIDER,
        state=state,
        code=code,
        error=error,
        error_description=error_description,
        # credentials are optional here; when present, the state must be this vault's
        principal=vault.principal if vault is not None else None,
        success_url=success_url or None,
        own_origin=_origin(request),
    )
    if success_url:
        return RedirectResponse(success_url, status_code=302)
    return CallbackResult(
        vercelUserId=connection.external_user_id,
        teamId=connection.team_id,
        scopes=list(connection.scopes),
    )


@router.delete("/disconnect", response_model=Disconnected, responses=errors(404))
async def disconnect(
    vault: CurrentVault,
    platform: PlatformDep,
    body: DisconnectRequest | None = Body(None),
) -> Disconnected:
    at = await platform.oauth.disconnect(
        vault.principal, PROVIDER, body.connectionId if body is not None else None
    )
    return Disconnected(disconnectedAt=_iso(at))


@router.get("/status", response_model=ConnectionStatusBody)
async def status(vault: CurrentVault, platform: PlatformDep) -> ConnectionStatusBody:
    result = await platform.oauth.status(vault.principal, PROVIDER)
    return ConnectionStatusBody(
        connected=result.connected,
        activeConnection=_active(result.active) if result.active is not None else None,
        connectionHistory=[_history(c) for c in result.history],
        events=[_event(e) for e in result.events],
    )
