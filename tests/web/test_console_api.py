"""The console's API without a browser: the session cookie and its CSRF token, sign-in with
an account, sign-out, tenancy, session search and paging."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from menagerie.core.clock import utcnow
from menagerie.core.identity.models import Principal
from menagerie.core.ops.alerts import Alert
from menagerie.core.tools.events import ServerStatusChanged
from tests.utils.principals import admin, other_tenant
from tests.web.conftest import Console

API = "/console/api"
PASSWORD = "correct horse battery 9"


@contextlib.asynccontextmanager
async def signed_in(
    console: Console, **credentials: str
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    async with httpx.AsyncClient(base_url=console.base_url, timeout=10) as client:
        answer = await client.post(f"{API}/session", json=credentials or {"token": console.token})
        assert answer.status_code == 200, answer.text
        yield client, answer.json()


async def test_the_cookie_is_scoped_and_writes_need_the_csrf_token(console: Console) -> None:
    async with signed_in(console) as (client, me):
        cookie = client.cookies.jar
        (stored,) = list(cookie)
        assert stored.name == "menagerie_console"
        assert stored.path == "/console/api"
        assert stored.has_nonstandard_attr("HttpOnly")
        async with httpx.AsyncClient(base_url=console.base_url) as other:
            again = await other.post(f"{API}/session", json={"token": console.token})
        assert "samesite=strict" in again.headers["set-cookie"].lower()
        assert me["user"]["is_admin"] is True
        assert me["csrf_token"]

        assert (await client.get(f"{API}/sessions")).status_code == 200
        forged = await client.post(f"{API}/sessions", json={"agent": "mama-bear"})
        assert forged.status_code == 403
        assert forged.json()["code"] == "CSRF_TOKEN_INVALID"
        assert forged.json()["error"].endswith("reload the page.")
        made = await client.post(
            f"{API}/sessions",
            json={"agent": "mama-bear"},
            headers={"X-CSRF-Token": me["csrf_token"]},
        )
        assert made.status_code == 201, made.text

        # other routes of the server never see the console's cookie
        assert (await client.get("/podplay/api/auth/me")).status_code == 401

        out = await client.delete(f"{API}/session", headers={"X-CSRF-Token": me["csrf_token"]})
        assert out.status_code == 204
    async with httpx.AsyncClient(base_url=console.base_url) as later:
        later.cookies.set("menagerie_console", stored.value, path="/console/api")
        gone = await later.get(f"{API}/session")
        assert gone.status_code == 401
        assert gone.json()["error"]


async def test_an_account_signs_in_and_the_master_key_does_not(console: Console) -> None:
    await console.platform.accounts.register("ada@example.com", PASSWORD, "Ada")
    async with signed_in(console, email="ada@example.com", password=PASSWORD) as (client, me):
        assert me["user"]["email"] == "ada@example.com"
        assert me["user"]["is_admin"] is False
        wrong = await client.post(
            f"{API}/session", json={"email": "ada@example.com", "password": "nope nope nope"}
        )
        assert wrong.status_code == 401
        master_key = console.platform.settings.master_key
        assert master_key is not None
        master = await client.post(f"{API}/session", json={"token": master_key.get_secret_value()})
        assert master.status_code == 401
        assert master.json()["code"] == "MASTER_KEY_NOT_ACCEPTED"
        empty = await client.post(f"{API}/session", json={})
        assert empty.status_code == 400
        assert empty.json()["error"] == "Give an API token, or an email and a password."


async def _bearer(console: Console, principal: Principal) -> dict[str, str]:
    issued = await console.platform.identity.create_api_token(principal, "console test")
    return {"Authorization": f"Bearer {issued.token}"}


async def test_sessions_search_page_and_stay_in_their_tenant(console: Console) -> None:
    platform, me = console.platform, admin(console.platform)
    for title in ("Otters of Lisbon", "Garden plans", "More otters", "100% _literal_"):
        await platform.chat.create_session(me, "mama-bear", title=title)
    mine = {"Authorization": f"Bearer {console.token}"}
    async with httpx.AsyncClient(base_url=console.base_url, timeout=10) as client:
        found = (await client.get(f"{API}/sessions", params={"q": "OTTERS"}, headers=mine)).json()
        assert sorted(s["title"] for s in found["sessions"]) == ["More otters", "Otters of Lisbon"]
        literal = (await client.get(f"{API}/sessions", params={"q": "0% _l"}, headers=mine)).json()
        assert [s["title"] for s in literal["sessions"]] == ["100% _literal_"]
        first = (await client.get(f"{API}/sessions", params={"limit": 3}, headers=mine)).json()
        assert (first["total"], len(first["sessions"])) == (4, 3)
        assert first["sessions"][0]["title"] == "100% _literal_"  # newest first

        stranger = await _bearer(console, await other_tenant(platform))
        theirs = (await client.get(f"{API}/sessions", headers=stranger)).json()
        assert theirs["total"] == 0
        one = first["sessions"][0]["id"]
        hidden = await client.get(f"{API}/sessions/{one}/messages", headers=stranger)
        assert hidden.status_code == 404
        assert hidden.json()["code"] == "SESSION_NOT_FOUND"


async def test_messages_page_backwards_from_the_newest(console: Console) -> None:
    platform, me = console.platform, admin(console.platform)
    session = await platform.chat.create_session(me, "mama-bear")
    await platform.chat.import_messages(
        me, session.id, [("user", f"m{n} **bold**") for n in range(1, 121)]
    )
    mine = {"Authorization": f"Bearer {console.token}"}
    url = f"{API}/sessions/{session.id}/messages"
    async with httpx.AsyncClient(base_url=console.base_url, timeout=10) as client:
        newest = (await client.get(url, params={"limit": 50}, headers=mine)).json()
        assert [m["position"] for m in newest["messages"]] == list(range(71, 121))
        assert newest["has_more"] is True
        # a user's words are shown as they were written, not as Markdown
        assert newest["messages"][0]["html"] == "<p>m71 **bold**</p>"
        before = newest["messages"][0]["id"]
        older = (await client.get(url, params={"before": before, "limit": 50}, headers=mine)).json()
        assert [m["position"] for m in older["messages"]] == list(range(21, 71))
        last = (
            await client.get(
                url, params={"before": older["messages"][0]["id"], "limit": 50}, headers=mine
            )
        ).json()
        assert [m["position"] for m in last["messages"]] == list(range(1, 21))
        assert last["has_more"] is False


async def _data_lines(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    async for line in lines:
        if line.startswith("data:"):
            yield line


def _status(tenant_id: str, server: str) -> dict[str, Any]:
    return ServerStatusChanged(tenant_id, "inst_1", server, "running", utcnow()).to_payload()


async def test_events_reach_their_tenant_and_operator_events_its_admins(console: Console) -> None:
    """Another tenant's admin receives neither this tenant's events nor the server's alerts."""
    platform = console.platform
    tenant = admin(platform).tenant_id
    stranger = await _bearer(console, await other_tenant(platform))
    mine = {"Authorization": f"Bearer {console.token}"}
    url = f"{API}/events"
    params = {"topics": "mcp.*,ops.alert"}
    alert = Alert("alert-1", "disk", "resource", "high", "Disk almost full", "disk", utcnow())
    async with (
        httpx.AsyncClient(base_url=console.base_url, timeout=10) as client,
        client.stream("GET", url, params=params, headers=mine) as own,
        client.stream("GET", url, params=params, headers=stranger) as theirs,
    ):
        own_lines, their_lines = own.aiter_lines(), theirs.aiter_lines()
        assert await anext(own_lines) == ": connected"
        assert await anext(their_lines) == ": connected"
        await platform.events.publish("ops.alert", alert.to_payload(tenant))
        await platform.events.publish("mcp.server_status", _status("acme", "theirs"))
        await platform.events.publish("mcp.server_status", _status(tenant, "mine"))
        own_data, their_data = _data_lines(own_lines), _data_lines(their_lines)
        seen = [await anext(own_data) for _ in range(2)]
        assert '"alert-1"' in seen[0], seen
        assert '"mine"' in seen[1], seen
        # the stranger's first event is its own tenant's: the alert and ours never came
        assert '"theirs"' in await anext(their_data)
        refused = await client.get(url, params={"topics": "secrets.*"}, headers=mine)
        assert refused.status_code == 400
