"""Crazy Gary's alerts over real HTTP: an admin acknowledges an active alert (Menagerie's
`POST /api/monitoring/alerts/{alert_id}/acknowledge`) and the list shows it acknowledged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from menagerie.app import create_app
from menagerie.core.ops.alerts import Thresholds
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.http import bearer
from tests.utils.principals import admin
from tests.utils.server import client_for

ADMIN = bearer("test-master-key-0123456789abcdef")  # conftest's master key: the operator
ALERTS = "/gary/api/monitoring/alerts"


@pytest.fixture
def database_url(tmp_path) -> str:  # alerts live in memory: one database is enough
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


@pytest.fixture
def platform(settings: Settings) -> Platform:
    return Platform.build(settings.model_copy(update={"rate_limits_enabled": False}))


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(platform=platform)) as http:
        yield http


async def test_an_admin_acknowledges_an_alert(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    assert platform.alerts is not None
    platform.alerts.thresholds = Thresholds(cpu_percent=-1.0)  # every machine passes it
    await platform.alerts.check()
    [raised] = [alert for alert in platform.alerts.active(admin(platform)) if alert.key == "cpu"]

    listed = (await client.get(ALERTS, headers=ADMIN)).json()
    assert {a["id"]: a["acknowledged"] for a in listed}[raised.id] is False

    answer = await client.post(f"{ALERTS}/{raised.id}/acknowledge", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == raised.id
    assert answer.json()["acknowledged"] is True

    listed = (await client.get(ALERTS, headers=ADMIN)).json()
    assert {a["id"]: a["acknowledged"] for a in listed}[raised.id] is True
    await platform.alerts.check()  # still holding: still the same, acknowledged, alert
    listed = (await client.get(ALERTS, headers=ADMIN)).json()
    assert {a["id"]: a["acknowledged"] for a in listed}[raised.id] is True

    missing = await client.post(f"{ALERTS}/alert_nosuch/acknowledge", headers=ADMIN)
    assert missing.status_code == 404
    assert missing.json()["error"]

    issued = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
    other = await client.post(f"{ALERTS}/{raised.id}/acknowledge", headers=bearer(issued.token))
    assert other.status_code == 404  # the operator's alerts: another tenant sees none
