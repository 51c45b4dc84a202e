"""A Panthers server on loopback whose NFT ownership is a JSON file held by real keys."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.http import bearer
from tests.utils.server import serve

MINE, THEIRS = "77", "78"
SEED_NFT = "123"  # the token id seed 002's examples use


def sign(account: LocalAccount, message: str) -> str:
    signed = Account.sign_message(encode_defunct(text=message), account.key)
    return "0x" + bytes(signed.signature).hex()


class Env:
    def __init__(self, client: httpx.AsyncClient, url: str, platform: Platform) -> None:
        self.client, self.url, self.platform = client, url, platform

    def ws(self, path: str, token: str) -> str:
        return self.url.replace("http://", "ws://") + f"/panthers{path}?token={token}"

    async def challenge(self, account: LocalAccount, nft: str) -> dict[str, Any]:
        response = await self.client.post(
            "/panthers/auth/challenge",
            json={"wallet_address": account.address, "nft_token_id": nft},
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def sign_in(self, account: LocalAccount, nft: str) -> dict[str, Any]:
        """The orchestrator's sign-in: access and refresh tokens for this NFT."""
        issued = await self.challenge(account, nft)
        response = await self.client.post(
            "/panthers/auth/verify",
            json={
                "wallet_address": account.address,
                "nft_token_id": nft,
                "signature": sign(account, issued["message"]),
                "message": issued["message"],
            },
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def agent_sign_in(self, account: LocalAccount, nft: str) -> dict[str, str]:
        """The agent API's own sign-in; the headers that carry its token."""
        issued = await self.challenge(account, nft)
        verified = await self.client.post(
            f"/panthers/agents/{nft}/auth/verify",
            json={
                "wallet_address": account.address,
                "signature": sign(account, issued["message"]),
                "message": issued["message"],
            },
        )
        assert verified.status_code == 200, verified.text
        return bearer(verified.json()["access_token"])


@pytest.fixture
def holders() -> dict[str, LocalAccount]:
    return {MINE: Account.create(), THEIRS: Account.create(), SEED_NFT: Account.create()}


@pytest.fixture
def owners_file(tmp_path: Path, holders: dict[str, LocalAccount]) -> Path:
    owners = tmp_path / "owners.json"
    owners.write_text(json.dumps({nft: account.address for nft, account in holders.items()}))
    return owners


@pytest.fixture
async def env(settings: Settings, owners_file: Path) -> AsyncIterator[Env]:
    platform = Platform.build(
        settings.model_copy(
            update={
                "nft_owners_file": owners_file,
                "rate_limits_enabled": False,
                "offline_token_delay_ms": 0,
            }
        )
    )
    async with (
        serve(create_app(platform=platform)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield Env(client, url, platform)
