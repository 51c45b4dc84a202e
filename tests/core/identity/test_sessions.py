"""Sessions: rotating refresh tokens, reuse detection, races, revocation, cookies, and
access JWTs that are refused when forged, tampered with, expired or of a revoked session."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import jwt as pyjwt
import pytest
from sqlalchemy import update

from menagerie.core.clock import utcnow
from menagerie.core.errors import Forbidden, TokenExpired, Unauthorized
from menagerie.core.identity.models import SessionInfo
from menagerie.core.identity.sessions import SessionService
from menagerie.core.identity.tables import RefreshTokenRow
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.principals import admin


@pytest.fixture
async def started(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform.build(settings.model_copy(update={"refresh_reuse_grace_s": 0.2}))
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


def sessions(platform: Platform) -> SessionService:
    assert platform.identity.sessions is not None
    return platform.identity.sessions


async def test_sign_in_then_rotate(started: Platform) -> None:
    pair = await sessions(started).open(admin(started), "password")
    assert pair.expires_in == 3600
    assert pair.refresh_expires_in == 7 * 86400
    principal = await started.identity.authenticate_bearer(pair.access_token)
    assert principal.session_id == pair.session_id
    assert principal.via == "jwt"
    rotated = await sessions(started).refresh(pair.refresh_token)
    assert rotated.refresh_token != pair.refresh_token
    assert rotated.session_id == pair.session_id
    await started.identity.authenticate_bearer(rotated.access_token)


async def test_reuse_of_a_spent_token_revokes_the_family(started: Platform) -> None:
    service = sessions(started)
    pair = await service.open(admin(started), "password")
    rotated = await service.refresh(pair.refresh_token)
    await asyncio.sleep(0.3)  # past the race grace period: this is a replay
    with pytest.raises(Unauthorized) as caught:
        await service.refresh(pair.refresh_token)
    assert caught.value.reason == "REFRESH_TOKEN_REUSED"
    # the thief's copy and the victim's newest token both died with the session
    with pytest.raises(Unauthorized):
        await service.refresh(rotated.refresh_token)
    with pytest.raises(Unauthorized):
        await started.identity.authenticate_bearer(rotated.access_token)


async def test_two_concurrent_refreshes_one_wins(started: Platform) -> None:
    service = sessions(started)
    pair = await service.open(admin(started), "password")
    results = await asyncio.gather(
        service.refresh(pair.refresh_token),
        service.refresh(pair.refresh_token),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert isinstance(losers[0], Unauthorized)
    # the race did not cost the winner its session
    again = await service.refresh(winners[0].refresh_token)
    await started.identity.authenticate_bearer(again.access_token)


async def test_revoking_a_user_ends_every_session_but_the_kept_one(started: Platform) -> None:
    service = sessions(started)
    who = admin(started)
    first = await service.open(who, "password")
    second = await service.open(who, "password")
    assert await service.revoke_user(
        who.user_id, "password_changed", keep_session=second.session_id
    )
    with pytest.raises(Unauthorized):
        await started.identity.authenticate_bearer(first.access_token)
    with pytest.raises(Unauthorized):
        await service.refresh(first.refresh_token)
    await started.identity.authenticate_bearer(second.access_token)


async def test_expired_refresh_token(started: Platform) -> None:
    service = sessions(started)
    pair = await service.open(admin(started), "password")
    async with started.database.session() as db:
        await db.execute(update(RefreshTokenRow).values(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(TokenExpired):
        await service.refresh(pair.refresh_token)


async def test_a_check_can_veto_a_refresh_without_spending_the_token(started: Platform) -> None:
    service = sessions(started)
    pair = await service.open(admin(started), "wallet", {"nft_token_id": "7"})

    async def no_longer_owner(info: SessionInfo) -> None:
        assert info.attributes == {"nft_token_id": "7"}
        raise Forbidden("the wallet no longer owns the NFT")

    with pytest.raises(Forbidden):
        await service.refresh(pair.refresh_token, check=no_longer_owner)
    await service.refresh(pair.refresh_token)  # not spent by the vetoed attempt


async def test_cookie_sessions(started: Platform) -> None:
    service = sessions(started)
    cookie, info = await service.open_cookie(admin(started))
    principal = await started.identity.authenticate_cookie(cookie)
    assert (principal.via, principal.session_id) == ("cookie", info.id)
    await service.revoke(info.id)
    with pytest.raises(Unauthorized):
        await started.identity.authenticate_cookie(cookie)
    with pytest.raises(Unauthorized):
        await started.identity.authenticate_cookie("mck_forged")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_forged_and_tampered_access_tokens_are_refused(started: Platform) -> None:
    pair = await sessions(started).open(admin(started), "password")
    header, payload, signature = pair.access_token.split(".")
    claims = pyjwt.decode(pair.access_token, options={"verify_signature": False})
    forged = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "wrong key": pyjwt.encode(claims, "not-the-server-key-0123456789abcdef", "HS256"),
        "tampered claims": f"{header}.{_b64({**claims, 'roles': ['admin', 'root']})}.{signature}",
        "other tenant": f"{header}.{_b64({**claims, 'tid': 'other'})}.{signature}",
    }
    for token in forged.values():
        with pytest.raises(Unauthorized):
            await started.identity.authenticate_bearer(token)


async def test_expired_access_token(started: Platform, settings: Settings) -> None:
    short = SessionService(started.database, started.identity._jwt, access_ttl_s=-1)
    pair = await short.open(admin(started), "password")
    with pytest.raises(TokenExpired):
        await started.identity.authenticate_bearer(pair.access_token)
