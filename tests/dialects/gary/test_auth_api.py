"""Crazy Gary `/api/auth/*` over real HTTP: the seed's request and response fields, its error
codes, refresh-token rotation and reuse, password changes ending sessions, forged tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from menagerie.app import create_app
from menagerie.core.clock import utcnow
from menagerie.core.identity.tables import UserRow
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils import envelopes
from tests.utils.envelopes import ISO
from tests.utils.http import bearer
from tests.utils.server import client_for

JWT_SECRET = "gary-auth-tests-jwt-secret-0123456789abcdef"
PASSWORD = "SecurePassword123"
USER_FIELDS = {"id", "email", "name", "created_at", "last_login"}


@pytest.fixture
def platform(settings: Settings) -> Platform:
    # rate limits are tested on their own below; here a test may sign in more than 10 times
    return Platform.build(
        settings.model_copy(
            update={
                "rate_limits_enabled": False,
                "refresh_reuse_grace_s": 0.2,
                "jwt_secret": SecretStr(JWT_SECRET),
            }
        )
    )


@pytest.fixture
async def gary(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(platform=platform)) as client:
        client.base_url = httpx.URL(f"{client.base_url}/gary")
        yield client


async def register(
    gary: httpx.AsyncClient, email: str = "user@example.com", name: str = "John Doe"
) -> dict[str, Any]:
    response = await gary.post(
        "/api/auth/register", json={"email": email, "password": PASSWORD, "fullName": name}
    )
    assert response.status_code == 201, response.text
    return response.json()


def assert_error(
    response: httpx.Response, status: int, code: str, reason: str | None = None
) -> dict[str, Any]:
    """Gary's envelope with one of the seed's codes; `reason`, the precise one in details."""
    body = envelopes.assert_error(response, status, code, dialect="gary")
    if reason is not None:
        assert body["details"]["reason"] == reason, body
    return body


def assert_signed_in(body: dict[str, Any], email: str, name: str) -> None:
    assert set(body) == {"token", "refresh_token", "expires_in", "user"}
    assert body["expires_in"] == 3600
    assert body["token"].count(".") == 2  # a JWT
    assert body["refresh_token"]
    assert body["refresh_token"] != body["token"]
    user = body["user"]
    assert set(user) == USER_FIELDS
    assert (user["email"], user["name"]) == (email, name)
    assert type(user["id"]) is int
    assert 0 < user["id"] < 2**53
    assert ISO.match(user["created_at"])
    assert ISO.match(user["last_login"])


# -- register and login ------------------------------------------------------------------------


async def test_register(gary: httpx.AsyncClient) -> None:
    response = await gary.post(
        "/api/auth/register",
        json={
            "email": "User@Example.com",
            "password": PASSWORD,
            "fullName": "John Doe",
            "role": "admin",  # not the caller's to choose
            "roles": ["admin"],
            "is_active": False,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert_signed_in(body, "user@example.com", "John Doe")
    validate = await gary.get("/api/auth/validate", headers=bearer(body["token"]))
    assert validate.json()["user"]["roles"] == ["user"]
    users = await gary.get("/api/users", headers=bearer(body["token"]))
    assert_error(users, 403, "INSUFFICIENT_PERMISSIONS")


async def test_register_errors(gary: httpx.AsyncClient) -> None:
    await register(gary)
    exists = await gary.post(
        "/api/auth/register",
        json={"email": "USER@example.com", "password": PASSWORD, "fullName": "Again"},
    )
    assert_error(exists, 409, "USER_EXISTS")

    weak = await gary.post(
        "/api/auth/register",
        json={"email": "weak@example.com", "password": "aaaaaaaa1", "fullName": "Weak"},
    )
    body = assert_error(weak, 400, "VALIDATION_ERROR", "WEAK_PASSWORD")
    assert body["details"]["field"] == "password"
    assert body["details"]["validation_errors"]
    assert "aaaaaaaa1" not in weak.text  # the password itself is not echoed

    bad_email = await gary.post(
        "/api/auth/register",
        json={"email": "not-an-email", "password": PASSWORD, "fullName": "Bad"},
    )
    assert assert_error(bad_email, 400, "VALIDATION_ERROR")["details"]["field"] == "email"

    missing = await gary.post("/api/auth/register", json={"email": "x@example.com"})
    assert assert_error(missing, 400, "VALIDATION_ERROR")["details"]["field"] == "password"


async def test_login(gary: httpx.AsyncClient) -> None:
    registered = await register(gary)
    response = await gary.post(
        "/api/auth/login", json={"email": "user@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert_signed_in(body, "user@example.com", "John Doe")
    assert body["user"]["id"] == registered["user"]["id"]
    assert body["user"]["last_login"] >= registered["user"]["last_login"]
    assert body["token"] != registered["token"]

    wrong = await gary.post(
        "/api/auth/login", json={"email": "user@example.com", "password": "Wrong-Password-1"}
    )
    unknown = await gary.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    wrong_body = assert_error(wrong, 401, "INVALID_CREDENTIALS")
    unknown_body = assert_error(unknown, 401, "INVALID_CREDENTIALS")
    assert wrong_body["error"] == unknown_body["error"]  # never which part was wrong
    assert wrong_body["details"] == unknown_body["details"]
    missing = await gary.post("/api/auth/login", json={"email": "user@example.com"})
    assert_error(missing, 400, "VALIDATION_ERROR")


# -- refresh -----------------------------------------------------------------------------------


async def test_refresh_rotates(gary: httpx.AsyncClient) -> None:
    signed_in = await register(gary)
    response = await gary.post("/api/auth/refresh", headers=bearer(signed_in["refresh_token"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token", "expires_in", "refresh_token"}
    assert body["expires_in"] == 3600
    assert body["refresh_token"] != signed_in["refresh_token"]
    me = await gary.get("/api/auth/me", headers=bearer(body["token"]))
    assert me.json()["user"]["id"] == signed_in["user"]["id"]
    # the next one in the JSON body works as well
    again = await gary.post("/api/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 200, again.text

    assert_error(await gary.post("/api/auth/refresh"), 401, "AUTH_REQUIRED")
    as_access = await gary.post("/api/auth/refresh", headers=bearer(signed_in["token"]))
    assert_error(as_access, 401, "AUTH_REQUIRED")
    forged = await gary.post("/api/auth/refresh", headers=bearer("mrt_made-up-token"))
    assert_error(forged, 401, "AUTH_REQUIRED")


async def test_reusing_a_spent_refresh_token_revokes_the_family(gary: httpx.AsyncClient) -> None:
    signed_in = await register(gary)
    rotated = (
        await gary.post("/api/auth/refresh", headers=bearer(signed_in["refresh_token"]))
    ).json()
    await asyncio.sleep(0.3)  # past the race grace period: a replay of a stolen copy
    replay = await gary.post("/api/auth/refresh", headers=bearer(signed_in["refresh_token"]))
    assert_error(replay, 401, "AUTH_REQUIRED", "REFRESH_TOKEN_REUSED")
    # the rightful holder's newest tokens died with the session
    newest = await gary.post("/api/auth/refresh", headers=bearer(rotated["refresh_token"]))
    assert newest.status_code == 401
    me = await gary.get("/api/auth/me", headers=bearer(rotated["token"]))
    assert me.status_code == 401
    # other sign-ins of the same user are a different family and live on
    login = await gary.post(
        "/api/auth/login", json={"email": "user@example.com", "password": PASSWORD}
    )
    assert (await gary.get("/api/auth/me", headers=bearer(login.json()["token"]))).is_success


async def test_two_concurrent_refreshes_one_wins(gary: httpx.AsyncClient) -> None:
    signed_in = await register(gary)
    responses = await asyncio.gather(
        gary.post("/api/auth/refresh", headers=bearer(signed_in["refresh_token"])),
        gary.post("/api/auth/refresh", headers=bearer(signed_in["refresh_token"])),
    )
    assert sorted(r.status_code for r in responses) == [200, 401]
    winner = next(r for r in responses if r.status_code == 200).json()
    loser = next(r for r in responses if r.status_code == 401)
    assert_error(loser, 401, "AUTH_REQUIRED", "REFRESH_TOKEN_REUSED")
    # the race did not cost the winner its session
    after = await gary.post("/api/auth/refresh", headers=bearer(winner["refresh_token"]))
    assert after.status_code == 200, after.text


# -- me and change-password --------------------------------------------------------------------


async def test_me(gary: httpx.AsyncClient) -> None:
    signed_in = await register(gary)
    token = signed_in["token"]
    me = await gary.get("/api/auth/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json() == {"user": signed_in["user"]}

    updated = await gary.put(
        "/api/auth/me",
        headers=bearer(token),
        json={
            "name": "Jane Doe",
            "role": "admin",
            "roles": ["admin"],
            "tenant_id": "other",
            "id": "usr_chosen",
            "is_active": False,
            "email": "mallory@example.com",
        },
    )
    assert updated.status_code == 200, updated.text
    user = updated.json()["user"]
    assert set(user) == USER_FIELDS
    assert (user["name"], user["id"], user["email"]) == (
        "Jane Doe",
        signed_in["user"]["id"],
        "user@example.com",
    )
    validate = (await gary.get("/api/auth/validate", headers=bearer(token))).json()
    assert validate["user"]["roles"] == ["user"]  # still no admin, still active
    full_name = await gary.put("/api/auth/me", headers=bearer(token), json={"fullName": "J. D."})
    assert full_name.json()["user"]["name"] == "J. D."
    blank = await gary.put("/api/auth/me", headers=bearer(token), json={"name": " "})
    assert_error(blank, 400, "VALIDATION_ERROR")

    assert_error(await gary.get("/api/auth/me"), 401, "AUTH_REQUIRED")
    assert_error(await gary.put("/api/auth/me", json={"name": "x"}), 401, "AUTH_REQUIRED")


async def test_change_password_ends_every_session(gary: httpx.AsyncClient) -> None:
    first = await register(gary)
    second = (
        await gary.post("/api/auth/login", json={"email": "user@example.com", "password": PASSWORD})
    ).json()
    new_password = "NewSecurePassword456"

    wrong = await gary.post(
        "/api/auth/change-password",
        headers=bearer(first["token"]),
        json={"current_password": "OldPassword123", "new_password": new_password},
    )
    assert assert_error(wrong, 400, "INVALID_CREDENTIALS")["details"]["field"] == (
        "current_password"
    )
    weak = await gary.post(
        "/api/auth/change-password",
        headers=bearer(first["token"]),
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert assert_error(weak, 400, "VALIDATION_ERROR")["details"]["field"] == "new_password"

    changed = await gary.post(
        "/api/auth/change-password",
        headers=bearer(first["token"]),
        json={"current_password": PASSWORD, "new_password": new_password},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"message": "Password changed successfully"}

    for session in (first, second):  # the one that asked included
        assert (await gary.get("/api/auth/me", headers=bearer(session["token"]))).status_code == 401
        refreshed = await gary.post("/api/auth/refresh", headers=bearer(session["refresh_token"]))
        assert refreshed.status_code == 401
    old = await gary.post(
        "/api/auth/login", json={"email": "user@example.com", "password": PASSWORD}
    )
    assert_error(old, 401, "INVALID_CREDENTIALS")
    new = await gary.post(
        "/api/auth/login", json={"email": "user@example.com", "password": new_password}
    )
    assert new.status_code == 200
    unauthenticated = await gary.post(
        "/api/auth/change-password",
        json={"current_password": new_password, "new_password": "Another-Password-789"},
    )
    assert_error(unauthenticated, 401, "AUTH_REQUIRED")


# -- validate and forged tokens ----------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_validate(gary: httpx.AsyncClient) -> None:
    signed_in = await register(gary)
    ok = await gary.get("/api/auth/validate", headers=bearer(signed_in["token"]))
    assert ok.status_code == 200
    body = ok.json()
    assert body["valid"] is True
    assert {"id", "email", "name"} <= set(body["user"])
    assert (body["user"]["id"], body["user"]["email"], body["user"]["name"]) == (
        signed_in["user"]["id"],
        "user@example.com",
        "John Doe",
    )
    no_token = await gary.get("/api/auth/validate")
    assert (no_token.status_code, no_token.json()) == (401, {"valid": False})


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_verification_hard_codes_its_algorithm(gary: httpx.AsyncClient) -> None:
    signed_in = await register(gary)
    claims = pyjwt.decode(signed_in["token"], options={"verify_signature": False})
    assert claims["typ"] == "access"
    assert claims["sid"]
    _, payload, _ = signed_in["token"].split(".")
    expired = {**claims, "exp": int((utcnow() - timedelta(minutes=1)).timestamp())}
    forged = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        # the server's own key, but an algorithm it does not use: refused all the same
        "HS512": pyjwt.encode(claims, JWT_SECRET, algorithm="HS512"),
        "HS384": pyjwt.encode(claims, JWT_SECRET, algorithm="HS384"),
        "wrong key": pyjwt.encode(claims, "another-key-entirely-0123456789abcdef", "HS256"),
        "escalated": pyjwt.encode({**claims, "roles": ["admin"], "sub": "usr_x"}, "k" * 32),
        "expired": pyjwt.encode(expired, JWT_SECRET, algorithm="HS256"),
        "refresh token as access": signed_in["refresh_token"],
    }
    for name, token in forged.items():
        validate = await gary.get("/api/auth/validate", headers=bearer(token))
        assert (validate.status_code, validate.json()) == (401, {"valid": False}), name
        me = await gary.get("/api/auth/me", headers=bearer(token))
        assert me.status_code == 401, name
    expired_me = await gary.get("/api/auth/me", headers=bearer(forged["expired"]))
    assert_error(expired_me, 401, "TOKEN_EXPIRED")
    # the genuine token, re-signed the only way the server signs, still works
    resigned = pyjwt.encode(claims, JWT_SECRET, algorithm="HS256")
    assert (await gary.get("/api/auth/me", headers=bearer(resigned))).status_code == 200


# -- secrets stay secret -----------------------------------------------------------------------


async def test_passwords_hashes_and_tokens_appear_only_where_issued(
    gary: httpx.AsyncClient, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # aiosqlite's DEBUG records print every SQL parameter: stored hashes, never a plaintext
    # password or token (those reach no SQL); capping that logger is the logging setup's job
    caplog.set_level(logging.INFO, logger="aiosqlite")
    new_password = "NewSecurePassword456"
    issuing: list[httpx.Response] = []
    others: list[httpx.Response] = []

    registered = await gary.post(
        "/api/auth/register",
        json={"email": "user@example.com", "password": PASSWORD, "fullName": "John Doe"},
    )
    issuing.append(registered)
    tokens = registered.json()
    refreshed = await gary.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"]))
    issuing.append(refreshed)
    access = refreshed.json()["token"]
    admin_token = platform.bootstrap_result.admin_token.token  # type: ignore[union-attr]
    others += [
        await gary.get("/api/auth/me", headers=bearer(access)),
        await gary.get("/api/auth/validate", headers=bearer(access)),
        await gary.put("/api/auth/me", headers=bearer(access), json={"name": "J"}),
        await gary.get("/api/users", headers=bearer(admin_token)),
        await gary.get(f"/api/users/{tokens['user']['id']}", headers=bearer(access)),
        await gary.post("/api/auth/login", json={"email": "user@example.com", "password": "x"}),
        await gary.post(
            "/api/auth/register",
            json={"email": "user@example.com", "password": PASSWORD, "fullName": "Again"},
        ),
        await gary.post(
            "/api/auth/register",
            json={"email": "new@example.com", "password": "weakpass", "fullName": "Weak"},
        ),
        await gary.post(
            "/api/auth/change-password",
            headers=bearer(access),
            json={"current_password": PASSWORD, "new_password": new_password},
        ),
        # the spent and revoked tokens, refused
        await gary.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])),
        await gary.get("/api/auth/me", headers=bearer(access)),
    ]
    logged_in = await gary.post(
        "/api/auth/login", json={"email": "user@example.com", "password": new_password}
    )
    issuing.append(logged_in)
    assert all(r.status_code < 500 for r in issuing + others)

    async with platform.database.session() as session:
        password_hash = await session.scalar(
            select(UserRow.password_hash).where(UserRow.email == "user@example.com")
        )
    assert password_hash is not None
    secrets = {
        "password": PASSWORD,
        "new password": new_password,
        "weak password": "weakpass",
        "hash": password_hash,
        "hash body": password_hash.rsplit("$", 1)[-1],
        "access token": tokens["token"],
        "refresh token": tokens["refresh_token"],
        "rotated access token": access,
        "rotated refresh token": refreshed.json()["refresh_token"],
        "last access token": logged_in.json()["token"],
        "admin token": admin_token,
    }
    issued_by = {
        "access token": registered,
        "refresh token": registered,
        "rotated access token": refreshed,
        "rotated refresh token": refreshed,
        "last access token": logged_in,
    }
    for name, secret in secrets.items():
        assert secret not in caplog.text, f"the {name} was logged"
        for response in issuing + others:
            if issued_by.get(name) is response:
                continue
            assert secret not in response.text, f"the {name} is in {response.request.url}"
            assert secret not in str(response.headers), f"the {name} is in a header"


# -- brute force -------------------------------------------------------------------------------


async def test_password_guessing_hits_the_rate_limit(settings: Settings) -> None:
    """Seed 004: authentication endpoints allow 10 requests an hour, here per address."""
    platform = Platform.build(settings.model_copy(update={"rate_limits_enabled": True}))
    async with client_for(create_app(platform=platform)) as client:
        await platform.accounts.register("user@example.com", PASSWORD, "John Doe")
        statuses = []
        for attempt in range(12):
            response = await client.post(
                "/gary/api/auth/login",
                json={"email": "user@example.com", "password": f"Guess-{attempt}-password"},
            )
            statuses.append(response.status_code)
        assert statuses == [401] * 10 + [429] * 2
        body = assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
        assert body["retry_after"] > 0
        assert int(response.headers["retry-after"]) > 0
        assert response.headers["x-ratelimit-limit"] == "10"
        assert response.headers["x-ratelimit-remaining"] == "0"
        # the right password does not get through either, nor does a fresh credential
        right = await client.post(
            "/gary/api/auth/login", json={"email": "user@example.com", "password": PASSWORD}
        )
        assert right.status_code == 429
        forged = await client.post(
            "/gary/api/auth/login",
            headers=bearer("made-up-credential"),
            json={"email": "user@example.com", "password": PASSWORD},
        )
        assert forged.status_code == 429
