"""Crazy Gary `/api/users*` over real HTTP: admin CRUD with the seed's fields, a user's own
entry, mass assignment ignored, 403 INSUFFICIENT_PERMISSIONS, and tenants that never meet."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.core.identity.numbers import user_number
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils import envelopes
from tests.utils.envelopes import ISO
from tests.utils.http import bearer
from tests.utils.server import client_for

PASSWORD = "SecurePassword123"
SEED_FIELDS = {"id", "username", "email", "created_at"}


@pytest.fixture
def platform(settings: Settings) -> Platform:
    return Platform.build(settings.model_copy(update={"rate_limits_enabled": False}))


@pytest.fixture
async def gary(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(platform=platform)) as client:
        client.base_url = httpx.URL(f"{client.base_url}/gary")
        yield client


def admin_headers(platform: Platform) -> dict[str, str]:
    result = platform.bootstrap_result
    assert result is not None
    assert result.admin_token is not None
    return bearer(result.admin_token.token)


async def register(gary: httpx.AsyncClient, email: str = "john@example.com") -> dict[str, Any]:
    response = await gary.post(
        "/api/auth/register", json={"email": email, "password": PASSWORD, "fullName": "johndoe"}
    )
    assert response.status_code == 201, response.text
    return response.json()


def assert_error(
    response: httpx.Response, status: int, code: str, reason: str | None = None
) -> None:
    """Gary's envelope with one of the seed's codes; `reason`, the precise one in details."""
    body = envelopes.assert_error(response, status, code, dialect="gary")
    if reason is not None:
        assert body["details"]["reason"] == reason, body


def assert_user(entry: dict[str, Any], username: str, email: str) -> None:
    assert set(entry) >= SEED_FIELDS
    assert (entry["username"], entry["email"]) == (username, email)
    # the seed's integer id, exact in JavaScript
    assert type(entry["id"]) is int
    assert 0 < entry["id"] < 2**53
    assert ISO.match(entry["created_at"])


async def test_admin_crud(gary: httpx.AsyncClient, platform: Platform) -> None:
    admin = admin_headers(platform)
    listed = await gary.get("/api/users", headers=admin)
    assert listed.status_code == 200, listed.text
    assert [u["username"] for u in listed.json()] == ["admin"]  # the bootstrap admin

    created = await gary.post(
        "/api/users", headers=admin, json={"username": "newuser", "email": "NewUser@example.com"}
    )
    assert created.status_code == 201, created.text
    entry = created.json()
    assert_user(entry, "newuser", "newuser@example.com")
    assert (entry["roles"], entry["is_active"], entry["last_login"]) == (["user"], True, None)
    user_id = entry["id"]

    duplicate = await gary.post(
        "/api/users", headers=admin, json={"username": "again", "email": "newuser@example.com"}
    )
    assert_error(duplicate, 409, "USER_EXISTS")
    for bad in (
        {"username": "x", "email": "not-an-email"},
        {"email": "x@example.com"},
        {"username": "", "email": "x@example.com"},
        {"username": "x", "email": "x@example.com", "password": "weak"},
    ):
        assert_error(
            await gary.post("/api/users", headers=admin, json=bad), 400, "VALIDATION_ERROR"
        )

    one = await gary.get(f"/api/users/{user_id}", headers=admin)
    assert one.status_code == 200
    assert one.json() == entry

    updated = await gary.put(
        f"/api/users/{user_id}",
        headers=admin,
        json={"username": "newusername", "email": "newemail@example.com"},
    )
    assert updated.status_code == 200, updated.text
    assert_user(updated.json(), "newusername", "newemail@example.com")
    assert updated.json()["created_at"] == entry["created_at"]

    listed = (await gary.get("/api/users", headers=admin)).json()
    assert [u["id"] for u in listed][-1] == user_id
    page = (await gary.get("/api/users?limit=1&offset=1", headers=admin)).json()
    assert [u["id"] for u in page] == [user_id]
    assert_error(await gary.get("/api/users?limit=0", headers=admin), 400, "VALIDATION_ERROR")

    deleted = await gary.delete(f"/api/users/{user_id}", headers=admin)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error(
        await gary.get(f"/api/users/{user_id}", headers=admin),
        404,
        "VALIDATION_ERROR",
        "USER_NOT_FOUND",
    )
    assert_error(
        await gary.delete(f"/api/users/{user_id}", headers=admin),
        404,
        "VALIDATION_ERROR",
        "USER_NOT_FOUND",
    )
    assert_error(
        await gary.put(f"/api/users/{user_id}", headers=admin, json={"username": "x"}),
        404,
        "VALIDATION_ERROR",
        "USER_NOT_FOUND",
    )


async def test_admin_sets_password_roles_and_activation(
    gary: httpx.AsyncClient, platform: Platform
) -> None:
    admin = admin_headers(platform)
    created = await gary.post(
        "/api/users",
        headers=admin,
        json={"username": "ops", "email": "ops@example.com", "password": PASSWORD, "role": "admin"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["roles"] == ["admin"]
    login = await gary.post(
        "/api/auth/login", json={"email": "ops@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    ops = bearer(login.json()["token"])
    assert (await gary.get("/api/users", headers=ops)).status_code == 200  # an admin by JWT

    user_id = created.json()["id"]
    demoted = await gary.put(f"/api/users/{user_id}", headers=admin, json={"roles": ["user"]})
    assert demoted.json()["roles"] == ["user"]
    # roles are read on every request: the demotion holds at once
    assert_error(await gary.get("/api/users", headers=ops), 403, "INSUFFICIENT_PERMISSIONS")

    deactivated = await gary.put(f"/api/users/{user_id}", headers=admin, json={"is_active": False})
    assert deactivated.json()["is_active"] is False
    assert (await gary.get("/api/auth/me", headers=ops)).status_code == 401
    again = await gary.post(
        "/api/auth/login", json={"email": "ops@example.com", "password": PASSWORD}
    )
    assert_error(again, 401, "INVALID_CREDENTIALS")


async def test_the_last_admin_and_oneself_are_kept(
    gary: httpx.AsyncClient, platform: Platform
) -> None:
    admin = admin_headers(platform)
    me = (await gary.get("/api/auth/validate", headers=admin)).json()["user"]["id"]
    assert_error(
        await gary.delete(f"/api/users/{me}", headers=admin),
        409,
        "VALIDATION_ERROR",
        "CANNOT_DELETE_SELF",
    )
    for change in ({"roles": ["user"]}, {"is_active": False}):
        response = await gary.put(f"/api/users/{me}", headers=admin, json=change)
        assert_error(response, 409, "VALIDATION_ERROR", "LAST_ADMIN")


async def test_non_admins(gary: httpx.AsyncClient, platform: Platform) -> None:
    signed_in = await register(gary)
    own_id = signed_in["user"]["id"]
    user = bearer(signed_in["token"])
    admin_id = (await gary.get("/api/auth/validate", headers=admin_headers(platform))).json()[
        "user"
    ]["id"]

    for method, path, body in [
        ("GET", "/api/users", None),
        ("POST", "/api/users", {"username": "x", "email": "x@example.com"}),
        ("GET", f"/api/users/{admin_id}", None),
        ("GET", "/api/users/999999999", None),  # 403, not 404: existence is not told
        ("PUT", f"/api/users/{admin_id}", {"username": "pwned"}),
        ("DELETE", f"/api/users/{admin_id}", None),
        ("DELETE", f"/api/users/{own_id}", None),
    ]:
        response = await gary.request(method, path, headers=user, json=body)
        assert_error(response, 403, "INSUFFICIENT_PERMISSIONS", "ADMIN_REQUIRED")

    own = await gary.get(f"/api/users/{own_id}", headers=user)
    assert own.status_code == 200
    assert_user(own.json(), "johndoe", "john@example.com")

    # mass assignment: everything but username and email is ignored
    updated = await gary.put(
        f"/api/users/{own_id}",
        headers=user,
        json={
            "username": "john",
            "email": "John.Doe@example.com",
            "role": "admin",
            "roles": ["admin"],
            "is_active": False,
            "tenant_id": "other",
            "id": "usr_chosen",
            "password": "Sneaky-Password-1",
            "created_at": "2000-01-01T00:00:00Z",
        },
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert_user(body, "john", "john.doe@example.com")
    assert (body["id"], body["roles"], body["is_active"]) == (own_id, ["user"], True)
    assert body["created_at"] == own.json()["created_at"]
    assert_error(await gary.get("/api/users", headers=user), 403, "INSUFFICIENT_PERMISSIONS")
    sneaky = await gary.post(
        "/api/auth/login", json={"email": "john.doe@example.com", "password": "Sneaky-Password-1"}
    )
    assert_error(sneaky, 401, "INVALID_CREDENTIALS")
    taken = await gary.put(
        f"/api/users/{own_id}", headers=user, json={"email": "JOHN.DOE@example.com"}
    )
    assert taken.status_code == 200  # one's own address again is no conflict
    await register(gary, "second@example.com")
    clash = await gary.put(
        f"/api/users/{own_id}", headers=user, json={"email": "second@example.com"}
    )
    assert_error(clash, 409, "USER_EXISTS")

    for method, path in [("GET", "/api/users"), ("GET", f"/api/users/{own_id}")]:
        assert_error(await gary.request(method, path), 401, "AUTH_REQUIRED")


async def test_a_second_tenant_sees_nothing_of_the_first(
    gary: httpx.AsyncClient, platform: Platform
) -> None:
    signed_in = await register(gary)
    default_user = signed_in["user"]["id"]
    issued = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
    acme = bearer(issued.token)

    listed = await gary.get("/api/users", headers=acme)
    assert listed.status_code == 200
    assert [u["id"] for u in listed.json()] == [user_number(issued.user_id)]
    for method, body in [("GET", None), ("PUT", {"username": "pwned"}), ("DELETE", None)]:
        response = await gary.request(method, f"/api/users/{default_user}", headers=acme, json=body)
        assert_error(response, 404, "VALIDATION_ERROR", "USER_NOT_FOUND")
    # the same address may exist once per tenant
    same_email = await gary.post(
        "/api/users", headers=acme, json={"username": "john", "email": "john@example.com"}
    )
    assert same_email.status_code == 201, same_email.text
    admin = admin_headers(platform)
    assert_error(
        await gary.get(f"/api/users/{same_email.json()['id']}", headers=admin),
        404,
        "VALIDATION_ERROR",
        "USER_NOT_FOUND",
    )
    untouched = await gary.get(f"/api/users/{default_user}", headers=admin)
    assert untouched.json()["username"] == "johndoe"


async def test_every_user_has_an_email_string(gary: httpx.AsyncClient, platform: Platform) -> None:
    """The fault: the bootstrap admin (no address of its own) was listed with `email: null`.
    An account without one shows its documented placeholder, `<id>@no-email.invalid`."""
    admin = admin_headers(platform)
    await register(gary)
    issued = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
    for headers in (admin, bearer(issued.token)):
        listed = (await gary.get("/api/users", headers=headers)).json()
        assert listed
        for entry in listed:
            assert isinstance(entry["email"], str), entry
            assert "@" in entry["email"]
    bootstrap = next(u for u in (await gary.get("/api/users", headers=admin)).json())
    # the placeholder names the account's opaque id, which stays stable like the number
    assert re.fullmatch(r"usr_[a-z0-9]+@no-email\.invalid", bootstrap["email"]), bootstrap
    assert (await gary.get(f"/api/users/{bootstrap['id']}", headers=admin)).json() == bootstrap
    validated = (await gary.get("/api/auth/validate", headers=admin)).json()
    assert validated["user"]["email"] == bootstrap["email"]

    # a client echoing the entry back changes nothing; nobody may pick such an address
    echoed = await gary.put(f"/api/users/{bootstrap['id']}", headers=admin, json=bootstrap)
    assert echoed.status_code == 200, echoed.text
    assert echoed.json()["email"] == bootstrap["email"]
    taken = await gary.post(
        "/api/users", headers=admin, json={"username": "x", "email": bootstrap["email"]}
    )
    assert_error(taken, 400, "VALIDATION_ERROR")
    # a real address replaces the placeholder
    real = await gary.put(
        f"/api/users/{bootstrap['id']}", headers=admin, json={"email": "root@example.com"}
    )
    assert real.json()["email"] == "root@example.com"
