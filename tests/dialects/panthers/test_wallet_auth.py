"""Panthers wallet sign-in over real HTTP (seed 002 "Authentication Endpoints" and the agent
API's `/auth/verify`): real keys, a local JSON-RPC node answering `ownerOf`, every documented
field and the documented error codes in Panthers' envelope."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from sqlalchemy import update

from menagerie.app import create_app
from menagerie.core.clock import utcnow
from menagerie.core.identity.wallet.tables import WalletChallengeRow
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils import envelopes
from tests.utils.evm_node import EvmNode
from tests.utils.http import bearer, closed_port
from tests.utils.server import client_for, serve

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NFT = "1234"


def sign(account: LocalAccount, message: str) -> str:
    signed = Account.sign_message(encode_defunct(text=message), account.key)
    return "0x" + bytes(signed.signature).hex()


def wallet_settings(settings: Settings, **update: Any) -> Settings:
    # each test signs in more often than the documented 5 auth requests a minute
    return settings.model_copy(update={"rate_limits_enabled": False, **update})


@pytest.fixture
async def node() -> AsyncIterator[tuple[EvmNode, str]]:
    evm = EvmNode(chain_id=1)
    async with serve(evm.app()) as url:
        yield evm, url


@pytest.fixture
def platform(settings: Settings, node: tuple[EvmNode, str]) -> Platform:
    evm, url = node
    return Platform.build(
        wallet_settings(settings, nft_rpc_url=url, nft_contract=evm.contract.lower())
    )


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(platform=platform)) as http:
        yield http


@pytest.fixture
def owner(node: tuple[EvmNode, str]) -> LocalAccount:
    account: LocalAccount = Account.create()
    node[0].owners[NFT] = account.address
    return account


async def challenge(
    client: httpx.AsyncClient, account: LocalAccount, nft: str = NFT
) -> dict[str, Any]:
    response = await client.post(
        "/panthers/auth/challenge", json={"wallet_address": account.address, "nft_token_id": nft}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def sign_in(
    client: httpx.AsyncClient, account: LocalAccount, nft: str = NFT
) -> dict[str, Any]:
    issued = await challenge(client, account, nft)
    response = await client.post(
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


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error of the response, in Panthers' envelope (`tests/utils/envelopes.py`)."""
    return envelopes.assert_error(response, status, code, dialect="panthers")["error"]


async def test_challenge_then_verify(client: httpx.AsyncClient, owner: LocalAccount) -> None:
    issued = await challenge(client, owner)
    assert set(issued) == {"message", "nonce", "expires_at"}
    assert ISO_MS.match(issued["expires_at"])
    lines = issued["message"].split("\n")
    assert lines[0] == "127.0.0.1:8000 wants you to sign in with your Ethereum account:"
    assert lines[1] == owner.address
    assert f"Nonce: {issued['nonce']}" in lines
    assert "Chain ID: 1" in lines
    assert "Version: 1" in lines
    assert f"Expiration Time: {issued['expires_at']}" in lines
    response = await client.post(
        "/panthers/auth/verify",
        json={
            "wallet_address": owner.address.lower(),  # any case: it is the same wallet
            "nft_token_id": NFT,
            "signature": sign(owner, issued["message"]),
            "message": issued["message"],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "expires_in", "session_id"}
    assert body["expires_in"] == 3600
    assert body["access_token"].count(".") == 2
    assert body["session_id"].startswith("ses_")
    # the access token is a Bearer credential for every protected route
    assert (await client.get("/v1/models", headers=bearer(body["access_token"]))).status_code == 200
    assert (await client.get("/v1/models")).status_code == 401


async def test_nft_id_as_a_number_is_accepted(
    client: httpx.AsyncClient, owner: LocalAccount
) -> None:
    response = await client.post(
        "/panthers/auth/challenge", json={"wallet_address": owner.address, "nft_token_id": 1234}
    )
    assert response.status_code == 200
    assert "NFT #1234" in response.json()["message"]


async def test_replayed_nonce_is_refused(client: httpx.AsyncClient, owner: LocalAccount) -> None:
    issued = await challenge(client, owner)
    request = {
        "wallet_address": owner.address,
        "nft_token_id": NFT,
        "signature": sign(owner, issued["message"]),
        "message": issued["message"],
    }
    assert (await client.post("/panthers/auth/verify", json=request)).status_code == 200
    error = assert_error(
        await client.post("/panthers/auth/verify", json=request), 401, "UNAUTHORIZED"
    )
    assert error["details"]["reason"] == "NONCE_USED"
    assert error["details"]["request_id"]


async def test_expired_nonce_is_refused(
    client: httpx.AsyncClient, platform: Platform, owner: LocalAccount
) -> None:
    issued = await challenge(client, owner)
    async with platform.database.session() as session:
        await session.execute(
            update(WalletChallengeRow).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = await client.post(
        "/panthers/auth/verify",
        json={
            "wallet_address": owner.address,
            "nft_token_id": NFT,
            "signature": sign(owner, issued["message"]),
            "message": issued["message"],
        },
    )
    assert assert_error(response, 401, "TOKEN_EXPIRED")["details"]["reason"] == "NONCE_EXPIRED"


async def test_signature_of_another_wallet(client: httpx.AsyncClient, owner: LocalAccount) -> None:
    issued = await challenge(client, owner)
    for signature in [sign(Account.create(), issued["message"]), "0xdeadbeef"]:
        response = await client.post(
            "/panthers/auth/verify",
            json={
                "wallet_address": owner.address,
                "nft_token_id": NFT,
                "signature": signature,
                "message": issued["message"],
            },
        )
        assert_error(response, 401, "INVALID_SIGNATURE")


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("127.0.0.1:8000 wants", "panthers.evil wants", "DOMAIN_MISMATCH"),
        ("Chain ID: 1\n", "Chain ID: 5\n", "CHAIN_MISMATCH"),
        ("Nonce: ", "Nonce: 0", "UNKNOWN_NONCE"),
        ("Sign in as", "Signed in as", "MESSAGE_ALTERED"),
    ],
)
async def test_altered_message_is_refused(
    client: httpx.AsyncClient, owner: LocalAccount, old: str, new: str, reason: str
) -> None:
    issued = await challenge(client, owner)
    message = issued["message"].replace(old, new)
    assert message != issued["message"]
    response = await client.post(
        "/panthers/auth/verify",
        json={
            "wallet_address": owner.address,
            "nft_token_id": NFT,
            "signature": sign(owner, message),  # the wallet signed the altered text
            "message": message,
        },
    )
    assert assert_error(response, 401, "UNAUTHORIZED")["details"]["reason"] == reason


async def test_wallet_without_the_nft_is_forbidden(
    client: httpx.AsyncClient, owner: LocalAccount
) -> None:
    stranger: LocalAccount = Account.create()
    issued = await challenge(client, stranger)
    response = await client.post(
        "/panthers/auth/verify",
        json={
            "wallet_address": stranger.address,
            "nft_token_id": NFT,
            "signature": sign(stranger, issued["message"]),
            "message": issued["message"],
        },
    )
    error = assert_error(response, 403, "FORBIDDEN")
    assert error["details"]["nft_token_id"] == NFT


async def test_refresh_then_ownership_lost(
    client: httpx.AsyncClient, node: tuple[EvmNode, str], owner: LocalAccount
) -> None:
    signed_in = await sign_in(client, owner)
    response = await client.post(
        "/panthers/auth/refresh", json={"refresh_token": signed_in["refresh_token"]}
    )
    assert response.status_code == 200, response.text
    refreshed = response.json()
    assert {"access_token", "expires_in"} <= set(refreshed)
    assert refreshed["expires_in"] == 3600
    assert refreshed["refresh_token"] != signed_in["refresh_token"]  # rotated, single-use
    assert_error(
        await client.post(
            "/panthers/auth/refresh", json={"refresh_token": signed_in["refresh_token"]}
        ),
        401,
        "UNAUTHORIZED",
    )
    # the NFT changes hands: the next refresh is refused, and the session's tokens die
    node[0].owners[NFT] = Account.create().address
    response = await client.post(
        "/panthers/auth/refresh", json={"refresh_token": refreshed["refresh_token"]}
    )
    assert assert_error(response, 403, "FORBIDDEN")["details"]["reason"] == "NFT_NOT_OWNED"
    response = await client.post("/panthers/auth/logout", headers=bearer(refreshed["access_token"]))
    assert_error(response, 401, "UNAUTHORIZED")


async def test_logout_revokes_the_session(client: httpx.AsyncClient, owner: LocalAccount) -> None:
    signed_in = await sign_in(client, owner)
    token = signed_in["access_token"]
    response = await client.post("/panthers/auth/logout", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"message"}
    error = assert_error(
        await client.post("/panthers/auth/logout", headers=bearer(token)), 401, "UNAUTHORIZED"
    )
    assert error["details"]["reason"] == "SESSION_REVOKED"
    assert (await client.get("/v1/models", headers=bearer(token))).status_code == 401
    assert_error(
        await client.post(
            "/panthers/auth/refresh", json={"refresh_token": signed_in["refresh_token"]}
        ),
        401,
        "UNAUTHORIZED",
    )
    assert_error(await client.post("/panthers/auth/logout"), 401, "UNAUTHORIZED")


async def test_agent_verify(client: httpx.AsyncClient, owner: LocalAccount) -> None:
    issued = await challenge(client, owner)
    request = {
        "wallet_address": owner.address,
        "signature": sign(owner, issued["message"]),
        "message": issued["message"],
    }
    # a challenge for NFT 1234 opens no other agent
    response = await client.post("/panthers/agents/999/auth/verify", json=request)
    error = assert_error(response, 403, "FORBIDDEN")
    assert error["details"]["reason"] == "NFT_MISMATCH"
    response = await client.post(f"/panthers/agents/{NFT}/auth/verify", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "expires_in"}
    assert body["expires_in"] == 3600
    assert (await client.get("/v1/models", headers=bearer(body["access_token"]))).status_code == 200
    # an agent's sign-in spends the nonce like any other
    response = await client.post(f"/panthers/agents/{NFT}/auth/verify", json=request)
    assert_error(response, 401, "UNAUTHORIZED")


async def test_invalid_requests(client: httpx.AsyncClient, owner: LocalAccount) -> None:
    response = await client.post(
        "/panthers/auth/challenge", json={"wallet_address": "0x123", "nft_token_id": NFT}
    )
    assert assert_error(response, 400, "INVALID_FIELD")["details"]["field"] == "wallet_address"
    response = await client.post(
        "/panthers/auth/challenge", json={"wallet_address": owner.address, "nft_token_id": "-1"}
    )
    assert assert_error(response, 400, "INVALID_FIELD")["details"]["field"] == "nft_token_id"
    response = await client.post("/panthers/auth/challenge", json={"nft_token_id": NFT})
    assert_error(response, 400, "MISSING_FIELD")
    response = await client.post(
        "/panthers/auth/challenge", json={"wallet_address": owner.address, "nft_token_id": 2**60}
    )
    assert assert_error(response, 400, "INVALID_FIELD")["details"]["field"] == "nft_token_id"
    # text that is no sign-in message was never issued: a credential that does not check out
    response = await client.post(
        "/panthers/auth/verify",
        json={
            "wallet_address": owner.address,
            "nft_token_id": NFT,
            "signature": "0x00",
            "message": "not a sign-in message",
        },
    )
    error = assert_error(response, 401, "UNAUTHORIZED")
    assert error["details"]["reason"] == "NOT_A_SIWE_MESSAGE"
    assert error["details"]["field"] == "message"


async def test_any_spelling_of_the_wallet_signs_in(
    client: httpx.AsyncClient, owner: LocalAccount
) -> None:
    """A mis-checksummed (EIP-55) spelling names the same wallet; its signature proves it."""
    digits = owner.address[2:]
    flipped = next(i for i, c in enumerate(digits) if c.isalpha())
    wrong_case = "0x" + digits[:flipped] + digits[flipped].swapcase() + digits[flipped + 1 :]
    response = await client.post(
        "/panthers/auth/challenge", json={"wallet_address": wrong_case, "nft_token_id": NFT}
    )
    assert response.status_code == 200, response.text
    issued = response.json()
    assert owner.address in issued["message"]
    response = await client.post(
        "/panthers/auth/verify",
        json={
            "wallet_address": wrong_case,
            "nft_token_id": NFT,
            "signature": sign(owner, issued["message"]),
            "message": issued["message"],
        },
    )
    assert response.status_code == 200, response.text


async def test_logout_needs_a_session(platform: Platform, client: httpx.AsyncClient) -> None:
    """An API key is a valid credential with no session to end: refused, in the seed's code."""
    key = platform.settings.master_key
    assert key is not None
    response = await client.post("/panthers/auth/logout", headers=bearer(key.get_secret_value()))
    assert assert_error(response, 403, "FORBIDDEN")["details"]["reason"] == "NOT_A_SESSION"


async def test_file_ownership_source(settings: Settings, tmp_path: Path) -> None:
    account: LocalAccount = Account.create()
    owners = tmp_path / "owners.json"
    owners.write_text(json.dumps({"77": account.address}))
    platform = Platform.build(wallet_settings(settings, nft_owners_file=owners))
    async with client_for(create_app(platform=platform)) as client:
        signed_in = await sign_in(client, account, "77")
        assert signed_in["session_id"].startswith("ses_")
        owners.write_text(json.dumps({"77": Account.create().address}))
        response = await client.post(
            "/panthers/auth/refresh", json={"refresh_token": signed_in["refresh_token"]}
        )
        assert_error(response, 403, "FORBIDDEN")


async def test_unreachable_rpc_is_a_clear_503(settings: Settings) -> None:
    port = closed_port()
    account: LocalAccount = Account.create()
    platform = Platform.build(
        wallet_settings(
            settings, nft_rpc_url=f"http://127.0.0.1:{port}", nft_contract="0x" + "11" * 20
        )
    )
    async with client_for(create_app(platform=platform)) as client:
        issued = await challenge(client, account)
        response = await client.post(
            "/panthers/auth/verify",
            json={
                "wallet_address": account.address,
                "nft_token_id": NFT,
                "signature": sign(account, issued["message"]),
                "message": issued["message"],
            },
        )
        error = assert_error(response, 503, "SERVICE_UNAVAILABLE")
        assert "unreachable" in error["message"]
        assert error["details"]["service"] == "nft_ownership"
        assert str(port) not in response.text  # where the node lives is the operator's business


async def test_unconfigured_sign_in_is_a_clear_503(settings: Settings) -> None:
    account: LocalAccount = Account.create()
    platform = Platform.build(wallet_settings(settings))
    async with client_for(create_app(platform=platform)) as client:
        issued = await challenge(client, account)
        response = await client.post(
            "/panthers/auth/verify",
            json={
                "wallet_address": account.address,
                "nft_token_id": NFT,
                "signature": sign(account, issued["message"]),
                "message": issued["message"],
            },
        )
        error = assert_error(response, 503, "SERVICE_UNAVAILABLE")
        assert "MENAGERIE_NFT_OWNERS_FILE" in error["message"]
