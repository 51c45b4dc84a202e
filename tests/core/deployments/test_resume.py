"""A `local` deployment outlives a restart of the server: its process ends with the server,
and the next server resumes it on the same address."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from menagerie.core.deployments.models import Deployment
from menagerie.core.identity.models import ADMIN, Principal
from menagerie.platform import Platform
from menagerie.settings import Settings

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
NFT = "5"


async def running(platform: Platform, admin: Principal) -> Deployment:
    async with asyncio.timeout(60):
        while True:
            deployment = await platform.deployments.get(admin, NFT)
            if deployment.status == "running":
                return deployment
            await asyncio.sleep(0.1)


async def test_a_deployment_is_resumed_after_the_server_restarts(settings: Settings) -> None:
    admin = Principal(settings.default_tenant, "usr_operator", frozenset({ADMIN}))
    first = Platform.build(settings)
    await first.start()
    try:
        deployed = await first.deployments.deploy(admin, NFT, "local", {}, wait_s=60)
        assert deployed.deployment.status == "running"
        url = deployed.deployment.endpoint_url
        assert url is not None
        pid = deployed.deployment.pid
        assert pid is not None
        log = settings.resolved_data_dir / "panthers" / "deployments" / NFT / "agent.log"
        assert log.exists()
    finally:
        await first.stop()
    # the server's stop took the process down (its port, once free, may be any other test's
    # server's by now: asking it would race with them)
    assert not Path(f"/proc/{pid}").exists()

    second = Platform.build(settings)
    await second.start()
    try:
        resumed = await running(second, admin)
        assert resumed.id == deployed.deployment.id
        assert resumed.endpoint_url == url
        async with httpx.AsyncClient(timeout=30) as client:  # a loaded machine is slow
            info = await client.get(f"{url}/info")
        assert info.status_code == 200, info.text
        assert info.json()["nft_token_id"] == NFT
        assert (await second.deployments.probe(resumed)).status == "healthy"
        await second.deployments.stop(admin, NFT)
    finally:
        await second.stop()
