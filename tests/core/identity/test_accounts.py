"""Accounts and API tokens in core: sign-up, sign-in, profiles, password changes, user
administration across tenants, and token listing and revocation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select, update

from menagerie.core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from menagerie.core.identity import records as records_module
from menagerie.core.identity import users as users_module
from menagerie.core.identity.accounts import AccountService
from menagerie.core.identity.fields import normalise_email
from menagerie.core.identity.models import Principal
from menagerie.core.identity.numbers import user_number
from menagerie.core.identity.tables import ApiTokenRow, UserRow
from menagerie.platform import Platform
from tests.utils.principals import admin

PASSWORD = "Correct-Horse-42"


def accounts(platform: Platform) -> AccountService:
    return platform.accounts


async def signed_up(platform: Platform, email: str = "ada@example.com") -> Principal:
    """A registered user's principal, from the access token registration handed out."""
    signed_in = await accounts(platform).register(email, PASSWORD, "Ada Lovelace")
    return await platform.identity.authenticate_bearer(signed_in.tokens.access_token)


# -- email addresses (no database) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("first.last+tag@mail.example.org", "first.last+tag@mail.example.org"),
        ("o'brien@xn--bcher-kva.example", "o'brien@xn--bcher-kva.example"),
    ],
)
def test_emails_are_normalised(raw: str, normalised: str) -> None:
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "plainaddress",
        "@example.com",
        "ada@",
        "ada@localhost",
        "ada@example.c",
        "ada@example.123",
        "ada@-example.com",
        "ada@example-.com",
        "ada..lovelace@example.com",
        ".ada@example.com",
        "ada lovelace@example.com",
        "ada@exa mple.com",
        "ada@example..com",
        "ada@@example.com",
        "ädä@example.com",
        "ada@exam\nple.com",
        "ada\x00@example.com",
        "a" * 65 + "@example.com",
        "ada@" + "a" * 250 + ".com",
        None,
        42,
    ],
)
def test_bad_emails_are_invalid(bad: object) -> None:
    with pytest.raises(Invalid) as caught:
        normalise_email(bad)
    assert caught.value.field == "email"


# -- signing up and in -------------------------------------------------------------------------


async def test_register_then_login(started: Platform) -> None:
    service = accounts(started)
    signed_in = await service.register(" Ada@Example.com ", PASSWORD, "Ada Lovelace")
    account = signed_in.account
    assert (account.email, account.name, account.roles) == (
        "ada@example.com",
        "Ada Lovelace",
        ("user",),
    )
    assert account.tenant_id == "default"
    assert account.last_login is not None
    assert signed_in.tokens.expires_in == 3600
    assert signed_in.tokens.refresh_expires_in == 7 * 86400
    principal = await started.identity.authenticate_bearer(signed_in.tokens.access_token)
    assert (principal.user_id, principal.via) == (account.id, "jwt")

    again = await service.login("ADA@example.com", PASSWORD)
    assert again.account.id == account.id
    assert again.tokens.session_id != signed_in.tokens.session_id  # a session per sign-in
    assert again.account.last_login is not None
    assert again.account.last_login >= account.last_login

    async with started.database.session() as session:
        stored = await session.scalar(select(UserRow.password_hash).where(UserRow.id == account.id))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


async def test_register_refuses_duplicates_weak_passwords_and_bad_emails(started: Platform) -> None:
    service = accounts(started)
    await service.register("ada@example.com", PASSWORD, None)
    with pytest.raises(Conflict) as exists:
        await service.register("ADA@EXAMPLE.COM", PASSWORD, "Another Ada")
    assert exists.value.reason == "USER_EXISTS"
    with pytest.raises(Invalid) as weak:
        await service.register("bob@example.com", "password", "Bob")
    assert (weak.value.reason, weak.value.field) == ("WEAK_PASSWORD", "password")
    with pytest.raises(Invalid) as bad:
        await service.register("bob@", PASSWORD, "Bob")
    assert bad.value.field == "email"
    with pytest.raises(Invalid) as bad_name:
        await service.register("bob@example.com", PASSWORD, "x" * 201)
    assert bad_name.value.field == "name"


async def test_concurrent_registrations_of_one_email_one_wins(started: Platform) -> None:
    results = await asyncio.gather(
        accounts(started).register("race@example.com", PASSWORD, "One"),
        accounts(started).register("race@example.com", PASSWORD, "Two"),
        return_exceptions=True,
    )
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(losers) == 1
    assert isinstance(losers[0], Conflict)
    assert losers[0].reason == "USER_EXISTS"


async def test_failed_logins_say_nothing_and_cost_the_same(
    started: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    await signed_up(started)
    verified: list[str | None] = []
    real_verify = records_module.verify_password

    def counting(password: str, password_hash: str | None) -> tuple[bool, str | None]:
        verified.append(password_hash)
        return real_verify(password, password_hash)

    monkeypatch.setattr(records_module, "verify_password", counting)
    messages = []
    for email, password in [
        ("ada@example.com", "Wrong-Password-1"),
        ("nobody@example.com", PASSWORD),
        ("not an email", PASSWORD),
        ("ada@example.com", ""),
        ("ada@example.com", "x" * 10_000),
    ]:
        with pytest.raises(Unauthorized) as caught:
            await accounts(started).login(email, password)
        assert caught.value.reason == "INVALID_CREDENTIALS"
        messages.append(caught.value.message)
    assert len(set(messages)) == 1  # never which part was wrong
    # one argon2 verification per attempt, against the dummy hash when there is no account
    assert len(verified) == 5
    assert verified[1] is None
    assert verified[2] is None
    assert verified[4] is None


async def test_inactive_accounts_cannot_sign_in(started: Platform) -> None:
    user = await signed_up(started)
    await accounts(started).users.update(admin(started), user.user_id, {"is_active": False})
    with pytest.raises(Unauthorized) as caught:
        await accounts(started).login("ada@example.com", PASSWORD)
    assert caught.value.reason == "INVALID_CREDENTIALS"


async def test_outdated_hashes_are_upgraded_at_sign_in(started: Platform) -> None:
    user = await signed_up(started)
    weak_hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192),))
    old_hash = weak_hasher.hash(PASSWORD)
    async with started.database.session() as session:
        await session.execute(
            update(UserRow).where(UserRow.id == user.user_id).values(password_hash=old_hash)
        )
    await accounts(started).login("ada@example.com", PASSWORD)
    async with started.database.session() as session:
        new_hash = await session.scalar(
            select(UserRow.password_hash).where(UserRow.id == user.user_id)
        )
    assert new_hash != old_hash
    assert new_hash is not None
    assert "m=8192" not in new_hash
    await accounts(started).login("ada@example.com", PASSWORD)  # the new hash verifies


# -- one's own account -------------------------------------------------------------------------


async def test_profile_updates_take_the_name_only(started: Platform) -> None:
    user = await signed_up(started)
    account = await accounts(started).update_me(
        user,
        {
            "name": "Countess of Lovelace",
            "roles": ["admin"],
            "role": "admin",
            "tenant_id": "other",
            "id": "usr_chosen",
            "is_active": False,
            "email": "mallory@example.com",
            "password_hash": "x",
        },
    )
    assert account.name == "Countess of Lovelace"
    assert (account.id, account.tenant_id) == (user.user_id, "default")
    assert (account.roles, account.is_active, account.email) == (("user",), True, "ada@example.com")
    with pytest.raises(Invalid):
        await accounts(started).update_me(user, {"name": "  "})


async def test_password_change_ends_every_session(started: Platform) -> None:
    service = accounts(started)
    first = await service.register("ada@example.com", PASSWORD, "Ada")
    second = await service.login("ada@example.com", PASSWORD)
    cookie = await service.login_cookie("ada@example.com", PASSWORD)
    user = await started.identity.authenticate_bearer(first.tokens.access_token)

    with pytest.raises(Invalid) as wrong:
        await service.change_password(user, "Not-The-Password-9", "Brand-New-Secret-7")
    assert (wrong.value.reason, wrong.value.field) == ("INVALID_CREDENTIALS", "current_password")
    with pytest.raises(Invalid) as weak:
        await service.change_password(user, PASSWORD, "short")
    assert (weak.value.reason, weak.value.field) == ("WEAK_PASSWORD", "new_password")
    with pytest.raises(Invalid):
        await service.change_password(user, PASSWORD, PASSWORD)

    assert await service.change_password(user, PASSWORD, "Brand-New-Secret-7") == 3
    for access in (first.tokens.access_token, second.tokens.access_token):
        with pytest.raises(Unauthorized):
            await started.identity.authenticate_bearer(access)  # the caller's own one too
    for refresh in (first.tokens.refresh_token, second.tokens.refresh_token):
        with pytest.raises(Unauthorized):
            await service.refresh(refresh)
    with pytest.raises(Unauthorized):
        await started.identity.authenticate_cookie(cookie.cookie)
    with pytest.raises(Unauthorized):
        await service.login("ada@example.com", PASSWORD)
    await service.login("ada@example.com", "Brand-New-Secret-7")


async def test_logout_ends_the_session(started: Platform) -> None:
    signed_in = await accounts(started).register("ada@example.com", PASSWORD, "Ada")
    user = await started.identity.authenticate_bearer(signed_in.tokens.access_token)
    assert await accounts(started).logout(user) is True
    with pytest.raises(Unauthorized):
        await started.identity.authenticate_bearer(signed_in.tokens.access_token)
    assert await accounts(started).logout(admin(started)) is False  # an API token: no session


# -- administration ----------------------------------------------------------------------------


async def test_non_admins_manage_nobody_but_themselves(started: Platform) -> None:
    user = await signed_up(started)
    service = accounts(started)
    refused = [
        service.users.list(user),
        service.users.create(user, email="eve@example.com", name="eve"),
        service.users.get(user, admin(started).user_id),
        service.users.get(user, "usr_does_not_exist"),  # 403, not 404: existence is not told
        service.users.update(user, admin(started).user_id, {"name": "pwned"}),
        service.users.delete(user, admin(started).user_id),
        service.users.delete(user, user.user_id),
    ]
    for call in refused:
        with pytest.raises(Forbidden) as caught:
            await call
        assert caught.value.reason == "ADMIN_REQUIRED"
    assert (await service.users.get(user, user.user_id)).email == "ada@example.com"
    mine = await service.users.update(
        user,
        user.user_id,
        {"name": "ada", "email": "ADA.L@example.com", "roles": ["admin"], "is_active": False},
    )
    assert (mine.name, mine.email, mine.roles, mine.is_active) == (
        "ada",
        "ada.l@example.com",
        ("user",),
        True,
    )


async def test_admin_crud(started: Platform) -> None:
    boss = admin(started)
    service = accounts(started)
    created = await service.users.create(boss, email="Eve@Example.com", name="eve")
    assert (created.email, created.roles, created.is_active) == ("eve@example.com", ("user",), True)
    assert created.last_login is None
    with pytest.raises(Conflict) as exists:
        await service.users.create(boss, email="eve@example.com", name="eve again")
    assert exists.value.reason == "USER_EXISTS"
    with pytest.raises(Invalid):
        await service.users.create(boss, email="eve@example.com", name="eve", roles=["Not A Role"])
    # without a password nobody can sign in as eve; an admin can set one
    with pytest.raises(Unauthorized):
        await service.login("eve@example.com", "")
    await service.users.update(boss, created.id, {"password": "Eves-Password-1"})
    await service.login("eve@example.com", "Eves-Password-1")

    listed = await service.users.list(boss)
    assert [a.id for a in listed] == [boss.user_id, created.id]
    assert [a.id for a in await service.users.list(boss, limit=1, offset=1)] == [created.id]

    promoted = await service.users.update(boss, created.id, {"role": "x", "roles": ["admin"]})
    assert promoted.roles == ("admin",)
    other = await service.users.create(boss, email="mallory@example.com", name="mallory")
    with pytest.raises(Conflict) as taken:
        await service.users.update(boss, other.id, {"email": "EVE@example.com"})
    assert taken.value.reason == "USER_EXISTS"
    await service.users.delete(boss, other.id)
    with pytest.raises(NotFound):
        await service.users.get(boss, other.id)
    with pytest.raises(NotFound):
        await service.users.delete(boss, other.id)


async def test_deactivation_ends_sessions(started: Platform) -> None:
    signed_in = await accounts(started).register("ada@example.com", PASSWORD, "Ada")
    await accounts(started).users.update(admin(started), signed_in.account.id, {"is_active": False})
    with pytest.raises(Unauthorized):
        await started.identity.authenticate_bearer(signed_in.tokens.access_token)
    with pytest.raises(Unauthorized):
        await accounts(started).refresh(signed_in.tokens.refresh_token)


async def test_the_last_admin_stays(started: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    boss = admin(started)
    service = accounts(started)
    with pytest.raises(Conflict) as self_delete:
        await service.users.delete(boss, boss.user_id)
    assert self_delete.value.reason == "CANNOT_DELETE_SELF"
    for change in ({"roles": ["user"]}, {"is_active": False}):
        with pytest.raises(Conflict) as last:
            await service.users.update(boss, boss.user_id, change)
        assert last.value.reason == "LAST_ADMIN"
    assert (await service.users.get(boss, boss.user_id)).roles == ("admin",)

    second = await service.users.create(boss, email="root@example.com", name="root", roles="admin")
    # two admins demoting each other at once: one of them stays an admin
    second_principal = Principal("default", second.id, frozenset({"admin"}))
    count_admins = users_module._refuse_if_no_admin_left

    async def slow_count(session: Any, tenant_id: str) -> None:
        await count_admins(session, tenant_id)
        await asyncio.sleep(0.2)  # widen the window between the check and the commit

    monkeypatch.setattr(users_module, "_refuse_if_no_admin_left", slow_count)
    results = await asyncio.gather(
        service.users.update(boss, second.id, {"roles": ["user"]}),
        service.users.update(second_principal, boss.user_id, {"roles": ["user"]}),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], Conflict)
    assert failures[0].reason == "LAST_ADMIN"
    remaining = [a for a in await service.users.list(boss) if a.is_admin]
    assert len(remaining) == 1


async def test_other_tenants_users_do_not_exist(started: Platform) -> None:
    user = await signed_up(started)
    issued = await started.api_tokens.issue_for_tenant("acme", "acme admin")
    acme = await started.identity.authenticate_bearer(issued.token)
    assert acme.tenant_id == "acme"
    assert acme.is_admin
    service = accounts(started)
    for call in (
        service.users.get(acme, user.user_id),
        service.users.update(acme, user.user_id, {"name": "pwned"}),
        service.users.delete(acme, user.user_id),
    ):
        with pytest.raises(NotFound):
            await call
    assert [a.tenant_id for a in await service.users.list(acme)] == ["acme"]
    assert (await service.users.get(admin(started), user.user_id)).name == "Ada Lovelace"


async def test_users_are_named_by_number_within_their_tenant(started: Platform) -> None:
    """The integer id (Crazy Gary's) names the same user as the opaque id, in its tenant only."""
    user = await signed_up(started)
    service = accounts(started)
    me = await service.users.get(user, user.user_id)
    assert me.number == user_number(user.user_id)
    assert 0 < me.number < 2**48
    assert (await service.users.get(user, me.number)).id == user.user_id
    boss = admin(started)
    assert (await service.users.get(boss, me.number)).id == user.user_id
    renamed = await service.users.update(boss, me.number, {"name": "Countess"})
    assert (renamed.id, renamed.name, renamed.number) == (user.user_id, "Countess", me.number)
    # a plain user naming another number is refused whether it exists or not
    for number in (user_number(boss.user_id), me.number + 1):
        with pytest.raises(Forbidden):
            await service.users.get(user, number)
    with pytest.raises(NotFound):
        await service.users.get(boss, me.number + 1)
    issued = await started.api_tokens.issue_for_tenant("acme", "acme admin")
    acme = await started.identity.authenticate_bearer(issued.token)
    for call in (
        service.users.get(acme, me.number),
        service.users.update(acme, me.number, {"name": "pwned"}),
        service.users.delete(acme, me.number),
    ):
        with pytest.raises(NotFound):
            await call
    await service.users.delete(boss, me.number)
    with pytest.raises(NotFound):
        await service.users.get(boss, user.user_id)


# -- API tokens --------------------------------------------------------------------------------


async def test_tokens_list_and_revoke(started: Platform) -> None:
    boss = admin(started)
    tokens = started.api_tokens
    issued = await tokens.create(boss, "  ci deploys ")
    assert issued.token.startswith("podplay_api_")
    assert issued.name == "ci deploys"
    await started.identity.authenticate_bearer(issued.token)

    listed = await tokens.list(boss)
    assert [t.name for t in listed] == ["bootstrap admin", "ci deploys"]
    mine = listed[-1]
    assert issued.token.startswith(mine.prefix)
    assert len(mine.prefix) == len("podplay_api_") + 4
    assert mine.last_used_at is not None  # the authentication above
    assert all(issued.token not in repr(t) for t in listed)
    async with started.database.session() as session:
        stored = list(await session.scalars(select(ApiTokenRow.token_hash)))
    assert all(issued.token not in value for value in stored)

    revoked = await tokens.revoke(boss, issued.id)
    assert revoked.revoked_at is not None
    assert not revoked.active
    with pytest.raises(Unauthorized):
        await started.identity.authenticate_bearer(issued.token)
    again = await tokens.revoke(boss, issued.id)  # idempotent
    assert again.revoked_at == revoked.revoked_at
    with pytest.raises(NotFound):
        await tokens.revoke(boss, "tok_nope")
    with pytest.raises(Invalid):
        await tokens.create(boss, " ")


async def test_tokens_are_per_tenant_and_admin_only(started: Platform) -> None:
    boss = admin(started)
    tokens = started.api_tokens
    ours = await tokens.create(boss, "ours")
    theirs = await tokens.issue_for_tenant("acme", "theirs")
    acme = await started.identity.authenticate_bearer(theirs.token)
    assert [t.name for t in await tokens.list(acme)] == ["theirs"]
    for call in (tokens.revoke(acme, ours.id), tokens.get(acme, ours.id)):
        with pytest.raises(NotFound):
            await call
    await started.identity.authenticate_bearer(ours.token)  # still good

    user = await signed_up(started)
    for call in (tokens.create(user, "mine"), tokens.list(user), tokens.revoke(user, ours.id)):
        with pytest.raises(Forbidden) as caught:
            await call
        assert caught.value.reason == "ADMIN_REQUIRED"

    # the operator's view: every tenant, or one
    assert {t.tenant_id for t in await tokens.list_all()} == {"default", "acme"}
    assert [t.id for t in await tokens.list_all("acme")] == [theirs.id]
    assert (await tokens.revoke_any(theirs.id)).revoked_at is not None
    # a second token for acme belongs to the same admin
    another = await tokens.issue_for_tenant("acme", "second")
    assert another.user_id == theirs.user_id
    with pytest.raises(Invalid):
        await tokens.issue_for_tenant("Not A Tenant!", "x")


async def test_master_key_tokens_belong_to_the_tenant_admin(started: Platform) -> None:
    master = await started.identity.authenticate_bearer("test-master-key-0123456789abcdef")
    issued = await started.api_tokens.create(master, "from the master key")
    assert issued.user_id == admin(started).user_id
