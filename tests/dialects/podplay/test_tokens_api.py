"""PodPlay over real HTTP: API tokens issued, listed and revoked by an admin, per tenant, and
the browser sign-in that sets `Cookie: session=…`."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils import envelopes
from tests.utils.http import bearer
from tests.utils.server import client_for

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PASSWORD = "SecurePassword123"
TOKEN_FIELDS = {
    "token_id",
    "name",
    "prefix",
    "user_id",
    "status",
    "created_at",
    "last_used_at",
    "revoked_at",
}


@pytest.fixture
def platform(settings: Settings) -> Platform:
    return Platform.build(settings.model_copy(update={"rate_limits_enabled": False}))


@pytest.fixture
async def podplay(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(platform=platform)) as client:
        client.base_url = httpx.URL(f"{client.base_url}/podplay")
        yield client


def admin_headers(platform: Platform) -> dict[str, str]:
    result = platform.bootstrap_result
    assert result is not None
    assert result.admin_token is not None
    return bearer(result.admin_token.token)


def assert_error(
    response: httpx.Response, status: int, code: str, reason: str | None = None
) -> dict[str, Any]:
    """The podplay envelope with `code`; the precise reason, where given, in details."""
    body = envelopes.assert_error(response, status, code, dialect="podplay")
    assert body["request_id"] == response.headers["x-request-id"]
    if reason is not None:
        assert body["details"]["reason"] == reason, body
    return body


async def sign_up(platform: Platform, email: str = "user@example.com") -> str:
    signed_in = await platform.accounts.register(email, PASSWORD, "Pod User")
    return signed_in.account.id


async def login(podplay: httpx.AsyncClient, email: str = "user@example.com") -> httpx.Response:
    response = await podplay.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    podplay.cookies.clear()  # every test sends its cookie explicitly
    return response


def session_cookie(response: httpx.Response) -> tuple[str, str]:
    """The cookie's value and the whole Set-Cookie header."""
    header = response.headers["set-cookie"]
    match = re.match(r"session=([^;]*);", header)
    assert match, header
    return match.group(1), header


# -- API tokens --------------------------------------------------------------------------------


async def test_issue_list_and_revoke(podplay: httpx.AsyncClient, platform: Platform) -> None:
    admin = admin_headers(platform)
    created = await podplay.post("/api/auth/tokens", headers=admin, json={"name": "ci deploys"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["success"] is True
    assert set(body) >= TOKEN_FIELDS | {"token", "message"}
    token = body["token"]
    assert token.startswith("podplay_api_")
    assert token.startswith(body["prefix"])
    assert body["prefix"] != token
    assert (body["name"], body["status"], body["revoked_at"]) == ("ci deploys", "active", None)
    assert ISO_MS.match(body["created_at"])

    me = await podplay.get("/api/auth/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert (me.json()["tenant_id"], me.json()["auth_method"]) == ("default", "token")

    listed = await podplay.get("/api/auth/tokens", headers=admin)
    assert listed.status_code == 200
    tokens = listed.json()
    assert tokens["success"] is True
    assert tokens["total"] == 2  # the bootstrap admin's and this one
    assert [t["name"] for t in tokens["tokens"]] == ["bootstrap admin", "ci deploys"]
    entry = tokens["tokens"][1]
    assert set(entry) == TOKEN_FIELDS
    assert entry["token_id"] == body["token_id"]
    assert ISO_MS.match(entry["last_used_at"])  # the request above
    assert token not in listed.text
    assert "token_hash" not in listed.text

    revoked = await podplay.delete(f"/api/auth/tokens/{body['token_id']}", headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["success"] is True
    assert revoked.json()["token_id"] == body["token_id"]
    assert ISO_MS.match(revoked.json()["revoked_at"])
    refused = await podplay.get("/api/auth/me", headers=bearer(token))
    assert_error(refused, 401, "AUTHENTICATION_REQUIRED")
    after = (await podplay.get("/api/auth/tokens", headers=admin)).json()["tokens"][1]
    assert (after["status"], after["revoked_at"]) == ("revoked", revoked.json()["revoked_at"])
    again = await podplay.delete(f"/api/auth/tokens/{body['token_id']}", headers=admin)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # idempotent

    missing = await podplay.delete("/api/auth/tokens/tok_nope", headers=admin)
    assert_error(missing, 404, "RESOURCE_NOT_FOUND")
    for bad in ({}, {"name": ""}, {"name": "x" * 201}):
        response = await podplay.post("/api/auth/tokens", headers=admin, json=bad)
        assert_error(response, 422, "INVALID_INPUT")
    blank = await podplay.post("/api/auth/tokens", headers=admin, json={"name": "   "})
    assert assert_error(blank, 422, "INVALID_INPUT")["details"]["field"] == "name"


async def test_tokens_need_an_admin(podplay: httpx.AsyncClient, platform: Platform) -> None:
    await sign_up(platform)
    cookie, _ = session_cookie(await login(podplay))
    user = {"Cookie": f"session={cookie}"}
    token_id = (await podplay.get("/api/auth/tokens", headers=admin_headers(platform))).json()[
        "tokens"
    ][0]["token_id"]
    for method, path, body in [
        ("POST", "/api/auth/tokens", {"name": "mine"}),
        ("GET", "/api/auth/tokens", None),
        ("DELETE", f"/api/auth/tokens/{token_id}", None),
    ]:
        response = await podplay.request(method, path, headers=user, json=body)
        assert_error(response, 403, "AUTHENTICATION_REQUIRED", "ADMIN_REQUIRED")
        anonymous = await podplay.request(method, path, json=body)
        assert_error(anonymous, 401, "AUTHENTICATION_REQUIRED")


async def test_tenants_never_see_each_others_tokens(
    podplay: httpx.AsyncClient, platform: Platform
) -> None:
    admin = admin_headers(platform)
    ours = (await podplay.post("/api/auth/tokens", headers=admin, json={"name": "ours"})).json()
    theirs = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
    acme = bearer(theirs.token)

    listed = (await podplay.get("/api/auth/tokens", headers=acme)).json()
    assert [t["token_id"] for t in listed["tokens"]] == [theirs.id]
    cross = await podplay.delete(f"/api/auth/tokens/{ours['token_id']}", headers=acme)
    assert_error(cross, 404, "RESOURCE_NOT_FOUND")
    assert (await podplay.get("/api/auth/me", headers=bearer(ours["token"]))).status_code == 200
    # a token acme issues is acme's
    issued = (await podplay.post("/api/auth/tokens", headers=acme, json={"name": "acme ci"})).json()
    me = (await podplay.get("/api/auth/me", headers=bearer(issued["token"]))).json()
    assert me["tenant_id"] == "acme"
    ours_listed = (await podplay.get("/api/auth/tokens", headers=admin)).json()["tokens"]
    assert issued["token_id"] not in {t["token_id"] for t in ours_listed}


# -- the session cookie ------------------------------------------------------------------------


async def test_login_sets_the_session_cookie(
    podplay: httpx.AsyncClient, platform: Platform
) -> None:
    user_id = await sign_up(platform)
    response = await login(podplay)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["user"]["user_id"] == user_id
    assert body["user"]["email"] == "user@example.com"
    assert body["expires_in"] == 7 * 86400
    cookie, header = session_cookie(response)
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "SameSite=Lax" in header
    assert "Path=/" in header
    assert f"Max-Age={7 * 86400}" in header
    assert "secure" not in attributes  # plain http
    assert cookie not in response.text  # in the header only

    me = await podplay.get("/api/auth/me", headers={"Cookie": f"session={cookie}"})
    assert me.status_code == 200, me.text
    assert (me.json()["user"]["user_id"], me.json()["auth_method"]) == (user_id, "cookie")
    # the cookie is a credential for the other routes too
    models = await podplay.get("/api/models", headers={"Cookie": f"session={cookie}"})
    assert models.status_code == 200, models.text

    forged = await podplay.get("/api/auth/me", headers={"Cookie": "session=mck_made-up"})
    assert_error(forged, 401, "AUTHENTICATION_REQUIRED")


async def test_the_cookie_is_secure_over_https(
    podplay: httpx.AsyncClient, platform: Platform
) -> None:
    await sign_up(platform)
    # a TLS-terminating proxy on loopback (trusted by uvicorn) says the client used https
    response = await podplay.post(
        "/api/auth/login",
        json={"email": "user@example.com", "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert response.status_code == 200, response.text
    _, header = session_cookie(response)
    assert "Secure" in header
    assert "HttpOnly" in header


async def test_logout_ends_the_session(podplay: httpx.AsyncClient, platform: Platform) -> None:
    await sign_up(platform)
    cookie, _ = session_cookie(await login(podplay))
    other, _ = session_cookie(await login(podplay))
    headers = {"Cookie": f"session={cookie}"}
    response = await podplay.post("/api/auth/logout", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    assert response.json()["session_ended"] is True
    cleared, header = session_cookie(response)
    assert cleared in ("", '""')
    assert "Max-Age=0" in header
    assert_error(await podplay.get("/api/auth/me", headers=headers), 401, "AUTHENTICATION_REQUIRED")
    # another browser's session lives on
    assert (await podplay.get("/api/auth/me", headers={"Cookie": f"session={other}"})).is_success
    assert_error(await podplay.post("/api/auth/logout"), 401, "AUTHENTICATION_REQUIRED")


async def test_bad_logins(podplay: httpx.AsyncClient, platform: Platform) -> None:
    await sign_up(platform)
    wrong = await podplay.post(
        "/api/auth/login", json={"email": "user@example.com", "password": "Wrong-Password-1"}
    )
    unknown = await podplay.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    for response in (wrong, unknown):
        assert_error(response, 401, "AUTHENTICATION_REQUIRED", "INVALID_CREDENTIALS")
        assert "set-cookie" not in response.headers
    assert wrong.json()["error"] == unknown.json()["error"]
    missing = await podplay.post("/api/auth/login", json={"email": "user@example.com"})
    assert_error(missing, 422, "INVALID_INPUT")


async def test_a_password_change_ends_cookie_sessions(
    podplay: httpx.AsyncClient, platform: Platform
) -> None:
    await sign_up(platform)
    cookie, _ = session_cookie(await login(podplay))
    signed_in = await platform.accounts.login("user@example.com", PASSWORD)
    principal = await platform.identity.authenticate_bearer(signed_in.tokens.access_token)
    await platform.accounts.change_password(principal, PASSWORD, "Brand-New-Secret-7")
    refused = await podplay.get("/api/auth/me", headers={"Cookie": f"session={cookie}"})
    assert_error(refused, 401, "AUTHENTICATION_REQUIRED")


async def test_secrets_stay_out_of_responses_and_logs(
    podplay: httpx.AsyncClient, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="aiosqlite")  # SQL parameters: see the Gary test
    await sign_up(platform)
    admin = admin_headers(platform)
    logged_in = await login(podplay)
    cookie, _ = session_cookie(logged_in)
    created = await podplay.post("/api/auth/tokens", headers=admin, json={"name": "secret"})
    token = created.json()["token"]
    others = [
        logged_in,  # the cookie is in its header, never its body
        await podplay.get("/api/auth/tokens", headers=admin),
        await podplay.get("/api/auth/me", headers=bearer(token)),
        await podplay.get("/api/auth/me", headers={"Cookie": f"session={cookie}"}),
        await podplay.post(
            "/api/auth/login", json={"email": "user@example.com", "password": "Wrong-1-password"}
        ),
        await podplay.delete(f"/api/auth/tokens/{created.json()['token_id']}", headers=admin),
        await podplay.get("/api/auth/me", headers=bearer(token)),
        await podplay.post("/api/auth/logout", headers={"Cookie": f"session={cookie}"}),
    ]
    for secret in (PASSWORD, "Wrong-1-password", token, cookie, admin["Authorization"][7:]):
        assert secret not in caplog.text
        for response in others:
            assert secret not in response.text
