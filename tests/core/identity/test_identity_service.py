"""Identity: first-start bootstrap, API tokens, JWTs, the master key, dev mode."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import jwt as pyjwt
import pytest
from sqlalchemy import func, select, update

from menagerie.core.clock import utcnow
from menagerie.core.errors import TokenExpired, Unauthorized
from menagerie.core.identity.jwt import JwtCodec, load_or_create_secret
from menagerie.core.identity.models import Principal
from menagerie.core.identity.tables import ApiTokenRow, UserRow
from menagerie.platform import Platform


async def test_bootstrap_creates_admin_and_token_once(started_platform: Platform) -> None:
    first = started_platform.bootstrap_result
    assert first is not None
    assert first.admin_token is not None
    assert first.admin_token.token.startswith("podplay_api_")

    again = await started_platform.identity.bootstrap()
    assert again.admin_token is None
    assert again.admin_user_id == first.admin_user_id
    async with started_platform.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(UserRow)) == 1
        stored = await session.scalar(select(ApiTokenRow.token_hash))
    assert first.admin_token.token not in (stored or "")  # only its hash is kept


async def test_concurrent_bootstrap_makes_one_admin(platform: Platform) -> None:
    from menagerie.storage import migrate

    await migrate.upgrade(platform.database)
    results = await asyncio.gather(*(platform.identity.bootstrap() for _ in range(3)))
    assert sum(1 for r in results if r.admin_token is not None) == 1
    async with platform.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(UserRow)) == 1
    await platform.database.dispose()


async def test_admin_token_authenticates(started_platform: Platform) -> None:
    token = started_platform.bootstrap_result.admin_token  # type: ignore[union-attr]
    assert token is not None
    principal = await started_platform.identity.authenticate_bearer(token.token)
    assert principal.tenant_id == "default"
    assert principal.is_admin
    assert principal.via == "token"


async def test_wrong_and_revoked_tokens_are_refused(started_platform: Platform) -> None:
    identity = started_platform.identity
    with pytest.raises(Unauthorized):
        await identity.authenticate_bearer("podplay_api_" + "x" * 43)
    token = started_platform.bootstrap_result.admin_token  # type: ignore[union-attr]
    assert token is not None
    async with started_platform.database.session() as session:
        await session.execute(update(ApiTokenRow).values(revoked_at=utcnow()))
    with pytest.raises(Unauthorized):
        await identity.authenticate_bearer(token.token)


async def test_access_jwt_round_trip(started_platform: Platform) -> None:
    identity = started_platform.identity
    admin = started_platform.bootstrap_result.admin_user_id  # type: ignore[union-attr]
    principal = Principal("default", admin, frozenset({"admin"}))
    token = identity.issue_access_token(principal)
    resolved = await identity.authenticate_bearer(token)
    assert (resolved.tenant_id, resolved.user_id, resolved.via) == ("default", admin, "jwt")


async def test_jwt_for_another_tenant_claim_is_refused(started_platform: Platform) -> None:
    identity = started_platform.identity
    admin = started_platform.bootstrap_result.admin_user_id  # type: ignore[union-attr]
    forged = identity.issue_access_token(Principal("other-tenant", admin, frozenset()))
    with pytest.raises(Unauthorized):
        await identity.authenticate_bearer(forged)


def test_jwt_codec_refuses_none_alg_wrong_key_tampering_and_expiry(tmp_path) -> None:
    codec = JwtCodec(load_or_create_secret(tmp_path))
    good = codec.encode("usr_1", ttl=timedelta(minutes=5), claims={"tid": "t"})
    assert codec.decode(good)["sub"] == "usr_1"

    unsigned = pyjwt.encode(
        {"sub": "usr_1", "iss": "menagerie", "iat": utcnow(), "exp": utcnow() + timedelta(1)},
        key=None,
        algorithm="none",
    )
    with pytest.raises(Unauthorized):
        codec.decode(unsigned)

    other = JwtCodec("another-secret-that-is-long-enough-0123456789")
    with pytest.raises(Unauthorized):
        codec.decode(other.encode("usr_1", ttl=timedelta(minutes=5), claims={}))

    header, payload, signature = good.split(".")
    tampered = f"{header}.{payload[:-2]}AA.{signature}"
    with pytest.raises(Unauthorized):
        codec.decode(tampered)

    expired = codec.encode("usr_1", ttl=timedelta(seconds=-1), claims={})
    with pytest.raises(TokenExpired):
        codec.decode(expired)

    refresh = codec.encode("usr_1", ttl=timedelta(minutes=5), claims={"typ": "refresh"})
    with pytest.raises(Unauthorized):
        codec.decode(refresh)  # a refresh token is not an access token


def test_secret_is_kept_private_and_stable(tmp_path) -> None:
    first = load_or_create_secret(tmp_path)
    assert load_or_create_secret(tmp_path) == first
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o077 == 0
    with pytest.raises(ValueError, match="32"):
        JwtCodec("short")


async def test_master_key_is_an_admin_everywhere(started_platform: Platform) -> None:
    identity = started_platform.identity
    principal = await identity.authenticate_bearer("test-master-key-0123456789abcdef")
    assert principal.is_admin
    assert principal.via == "master_key"
    with pytest.raises(Unauthorized):
        await identity.authenticate_bearer("test-master-key-0123456789abcdeX")


async def test_an_api_token_costs_one_read_and_a_write_at_most_once_a_minute(
    started_platform: Platform,
) -> None:
    from sqlalchemy import event

    token = started_platform.bootstrap_result.admin_token  # type: ignore[union-attr]
    assert token is not None
    identity = started_platform.identity
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        # the platform's own background loops share the engine: only the tokens' statements
        if "api_tokens" in statement:
            statements.append(statement.split()[0].upper())

    engine = started_platform.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        await identity.authenticate_bearer(token.token)  # first use: last_used_at written
        first = list(statements)
        statements.clear()
        for _ in range(3):
            await identity.authenticate_bearer(token.token)
        again = list(statements)
        # a minute later the next use writes it again
        async with started_platform.database.session() as session:
            await session.execute(
                update(ApiTokenRow).values(last_used_at=utcnow() - timedelta(minutes=2))
            )
        statements.clear()
        await identity.authenticate_bearer(token.token)
        stale = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert first == ["SELECT", "UPDATE"]
    assert again == ["SELECT"] * 3
    assert stale == ["SELECT", "UPDATE"]
    async with started_platform.database.session() as session:
        used = await session.scalar(select(ApiTokenRow.last_used_at))
    assert used is not None
    assert utcnow() - used.replace(tzinfo=utcnow().tzinfo) < timedelta(minutes=1)
