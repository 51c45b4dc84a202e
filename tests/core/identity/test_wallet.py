"""Wallet sign-in in core: EIP-4361 messages signed with real keys, single-use nonces, NFT
ownership read from a local JSON-RPC node (or a file), refreshes that re-check ownership."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from sqlalchemy import select, update

from menagerie.core.clock import utcnow
from menagerie.core.errors import Forbidden, Invalid, TokenExpired, Unauthorized, Unavailable
from menagerie.core.identity.models import Principal
from menagerie.core.identity.tables import UserRow
from menagerie.core.identity.wallet import siwe
from menagerie.core.identity.wallet.models import WalletSignIn
from menagerie.core.identity.wallet.ownership import FileOwnership, RpcOwnership
from menagerie.core.identity.wallet.service import WalletService
from menagerie.core.identity.wallet.tables import WalletAccountRow, WalletChallengeRow
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.evm_node import EvmNode
from tests.utils.server import serve

CHAIN = 8453
WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"


def sign(account: LocalAccount, message: str) -> str:
    signed = Account.sign_message(encode_defunct(text=message), account.key)
    return "0x" + bytes(signed.signature).hex()


@pytest.fixture
async def node() -> AsyncIterator[tuple[EvmNode, str]]:
    evm = EvmNode(chain_id=CHAIN)
    async with serve(evm.app()) as url:
        yield evm, url


@pytest.fixture
async def started(settings: Settings, node: tuple[EvmNode, str]) -> AsyncIterator[Platform]:
    evm, url = node
    platform = Platform.build(
        settings.model_copy(
            update={
                "nft_rpc_url": url,
                "nft_contract": evm.contract,
                "siwe_chain_id": CHAIN,
                "siwe_domain": "panthers.example:8443",
                "refresh_reuse_grace_s": 0.0,
            }
        )
    )
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


@pytest.fixture
def owner(node: tuple[EvmNode, str]) -> LocalAccount:
    account: LocalAccount = Account.create()
    node[0].owners["42"] = account.address
    return account


async def sign_in(wallets: WalletService, account: LocalAccount, nft: str = "42") -> WalletSignIn:
    issued = await wallets.challenge(account.address, nft)
    return await wallets.verify(
        wallet_address=account.address,
        nft_token_id=nft,
        signature=sign(account, issued.message),
        message=issued.message,
    )


# -- messages --------------------------------------------------------------------------------


def test_message_is_laid_out_as_eip_4361() -> None:
    account = Account.create()
    message = siwe.SiweMessage(
        domain="example.com",
        address=account.address,
        statement="Sign in as the owner of NFT #7.",
        uri="https://example.com",
        chain_id=1,
        nonce="32891756abcdef01",
        issued_at="2021-09-30T16:25:24.000Z",
        expiration_time="2021-09-30T16:30:24.000Z",
    )
    assert message.text() == (
        "example.com wants you to sign in with your Ethereum account:\n"
        f"{account.address}\n"
        "\n"
        "Sign in as the owner of NFT #7.\n"
        "\n"
        "URI: https://example.com\n"
        "Version: 1\n"
        "Chain ID: 1\n"
        "Nonce: 32891756abcdef01\n"
        "Issued At: 2021-09-30T16:25:24.000Z\n"
        "Expiration Time: 2021-09-30T16:30:24.000Z"
    )
    assert siwe.parse(message.text()) == message


def test_parser_reads_every_optional_field_and_refuses_junk() -> None:
    text = (
        "https://example.com:8443 wants you to sign in with your Ethereum account:\n"
        "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n\n\n"
        "URI: https://example.com:8443/login\nVersion: 1\nChain ID: 137\nNonce: abcdefgh12\n"
        "Issued At: 2024-01-01T00:00:00Z\nExpiration Time: 2024-01-01T00:05:00Z\n"
        "Not Before: 2024-01-01T00:00:00Z\nRequest ID: r-1\nResources:\n- ipfs://x\n- https://y"
    )
    parsed = siwe.parse(text)
    assert (parsed.scheme, parsed.domain, parsed.statement) == ("https", "example.com:8443", None)
    assert parsed.chain_id == 137
    assert parsed.request_id == "r-1"
    assert parsed.resources == ("ipfs://x", "https://y")
    assert parsed.text() == text
    for junk in [
        "hello",
        text.replace("Version: 1", "Version: 2"),
        text.replace("Nonce: abcdefgh12", "Nonce: short"),
        text.replace("Chain ID: 137", "Chain ID: one"),
        text + "\nextra",
        text.replace("0xC02a", "0xZZ2a"),
    ]:
        with pytest.raises(siwe.SiweFormatError):
            siwe.parse(junk)


def test_addresses_and_token_ids() -> None:
    account = Account.create()
    assert siwe.checksum_address(account.address.lower()) == account.address
    assert siwe.checksum_address("0x" + account.address[2:].upper()) == account.address
    # a known EIP-55 address with one letter's case flipped fails its checksum
    assert siwe.checksum_address(WETH) == WETH
    with pytest.raises(Invalid, match="checksum"):
        siwe.checksum_address(WETH.replace("C02aaA", "C02aAA"))
    # where a signature will prove the address, the spelling is only normalized
    assert siwe.checksum_address(WETH.replace("C02aaA", "C02aAA"), strict=False) == WETH
    for bad in ["", "0x123", "hello", account.address + "00"]:
        with pytest.raises(Invalid):
            siwe.checksum_address(bad)
    assert siwe.token_id("007") == "7"
    assert siwe.token_id(2**256 - 1) == str(2**256 - 1)
    for bad in ["-1", "1.5", "abc", str(2**256), "", "١٢"]:
        with pytest.raises(Invalid):
            siwe.token_id(bad)


# -- sign-in -----------------------------------------------------------------------------------


async def test_sign_in_with_a_real_key(started: Platform, owner: LocalAccount) -> None:
    wallets = started.wallets
    issued = await wallets.challenge(owner.address.lower(), "42")
    parsed = siwe.parse(issued.message)
    assert parsed.domain == "panthers.example:8443"
    assert parsed.address == owner.address  # EIP-55, whatever the caller sent
    assert parsed.chain_id == CHAIN
    assert parsed.nonce == issued.nonce
    assert len(issued.nonce) >= 16
    assert parsed.expires == issued.expires_at
    assert "NFT #42" in (parsed.statement or "")
    assert issued.expires_at - issued.issued_at == timedelta(seconds=300)
    signed_in = await wallets.verify(
        wallet_address=owner.address,
        nft_token_id="42",
        signature=sign(owner, issued.message),
        message=issued.message,
    )
    tokens = signed_in.tokens
    assert tokens.expires_in == 3600
    assert tokens.refresh_expires_in == 7 * 86400
    principal = await started.identity.authenticate_bearer(tokens.access_token)
    assert principal.session_id == tokens.session_id
    assert principal.tenant_id == "default"
    assert not principal.is_admin
    identity = await wallets.identity(principal)
    assert identity is not None
    assert (identity.wallet, identity.nft_token_id, identity.scope) == (
        owner.address,
        "42",
        "orchestrator",
    )
    # a second sign-in is the same user; the wallet has one account row
    again = await sign_in(wallets, owner)
    assert again.user_id == signed_in.user_id
    async with started.database.session() as session:
        accounts = (await session.scalars(select(WalletAccountRow))).all()
        user = await session.get(UserRow, signed_in.user_id)
    assert [a.address for a in accounts] == [owner.address]
    assert user is not None
    assert user.name == owner.address
    assert user.roles == []


async def test_a_nonce_is_single_use(started: Platform, owner: LocalAccount) -> None:
    issued = await started.wallets.challenge(owner.address, "42")
    request = {
        "wallet_address": owner.address,
        "nft_token_id": "42",
        "signature": sign(owner, issued.message),
        "message": issued.message,
    }
    await started.wallets.verify(**request)
    with pytest.raises(Unauthorized) as caught:
        await started.wallets.verify(**request)
    assert caught.value.reason == "NONCE_USED"


async def test_two_racing_verifies_of_one_nonce_one_wins(
    started: Platform, owner: LocalAccount
) -> None:
    issued = await started.wallets.challenge(owner.address, "42")
    request = {
        "wallet_address": owner.address,
        "nft_token_id": "42",
        "signature": sign(owner, issued.message),
        "message": issued.message,
    }
    results = await asyncio.gather(
        *(started.wallets.verify(**request) for _ in range(4)), return_exceptions=True
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1
    assert all(isinstance(e, Unauthorized) and e.reason == "NONCE_USED" for e in lost)


async def test_an_expired_challenge_is_refused(started: Platform, owner: LocalAccount) -> None:
    issued = await started.wallets.challenge(owner.address, "42")
    async with started.database.session() as session:
        await session.execute(
            update(WalletChallengeRow).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(TokenExpired) as caught:
        await started.wallets.verify(
            wallet_address=owner.address,
            nft_token_id="42",
            signature=sign(owner, issued.message),
            message=issued.message,
        )
    assert caught.value.reason == "NONCE_EXPIRED"


async def test_a_signature_from_another_wallet_is_refused(
    started: Platform, owner: LocalAccount
) -> None:
    issued = await started.wallets.challenge(owner.address, "42")
    thief = Account.create()
    for signature in [sign(thief, issued.message), "0x1234", "not hex", "0x" + "00" * 65]:
        with pytest.raises(Unauthorized) as caught:
            await started.wallets.verify(
                wallet_address=owner.address,
                nft_token_id="42",
                signature=signature,
                message=issued.message,
            )
        assert caught.value.reason == "INVALID_SIGNATURE"
    # the failures spent nothing: the owner's own signature still works
    await started.wallets.verify(
        wallet_address=owner.address,
        nft_token_id="42",
        signature=sign(owner, issued.message),
        message=issued.message,
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (("panthers.example:8443 wants", "evil.example wants"), "DOMAIN_MISMATCH"),
        ((f"Chain ID: {CHAIN}", "Chain ID: 1"), "CHAIN_MISMATCH"),
        (("NFT #42.", "NFT #43."), "MESSAGE_ALTERED"),
        (("Version: 1\n", "Version: 1\n"), None),  # unchanged: the control
    ],
)
async def test_an_altered_message_is_refused_even_when_signed(
    started: Platform, owner: LocalAccount, change: tuple[str, str], code: str | None
) -> None:
    issued = await started.wallets.challenge(owner.address, "42")
    message = issued.message.replace(*change)
    call = started.wallets.verify(
        wallet_address=owner.address,
        nft_token_id="42",
        signature=sign(owner, message),  # the wallet really signed the altered text
        message=message,
    )
    if code is None:
        await call
        return
    with pytest.raises(Unauthorized) as caught:
        await call
    assert caught.value.reason == code


async def test_a_changed_or_made_up_nonce_is_unknown(
    started: Platform, owner: LocalAccount
) -> None:
    issued = await started.wallets.challenge(owner.address, "42")
    message = issued.message.replace(issued.nonce, "f" * 32)
    with pytest.raises(Unauthorized) as caught:
        await started.wallets.verify(
            wallet_address=owner.address,
            nft_token_id="42",
            signature=sign(owner, message),
            message=message,
        )
    assert caught.value.reason == "UNKNOWN_NONCE"


async def test_the_message_must_name_the_wallet(started: Platform, owner: LocalAccount) -> None:
    issued = await started.wallets.challenge(owner.address, "42")
    other = Account.create()
    with pytest.raises(Unauthorized) as caught:
        await started.wallets.verify(
            wallet_address=other.address,
            nft_token_id="42",
            signature=sign(other, issued.message),
            message=issued.message,
        )
    assert caught.value.reason == "ADDRESS_MISMATCH"
    # text that is no EIP-4361 message was never issued here: refused as a credential
    with pytest.raises(Unauthorized) as caught:
        await started.wallets.verify(
            wallet_address=owner.address, nft_token_id="42", signature="0x", message="hi"
        )
    assert caught.value.reason == "NOT_A_SIWE_MESSAGE"


async def test_a_wallet_without_the_nft_is_forbidden(
    started: Platform, node: tuple[EvmNode, str], owner: LocalAccount
) -> None:
    stranger = Account.create()
    for nft in ["42", "99"]:  # owned by someone else; minted by nobody (the contract reverts)
        with pytest.raises(Forbidden) as caught:
            await sign_in(started.wallets, stranger, nft)
        assert caught.value.reason == "NFT_NOT_OWNED"
    # the request's NFT must be the challenge's
    issued = await started.wallets.challenge(owner.address, "42")
    with pytest.raises(Forbidden) as caught:
        await started.wallets.verify(
            wallet_address=owner.address,
            nft_token_id="43",
            signature=sign(owner, issued.message),
            message=issued.message,
        )
    assert caught.value.reason == "NFT_MISMATCH"
    calls = [c for c in node[0].calls if c["method"] == "eth_call"]
    assert calls[0]["params"][0]["to"] == node[0].contract
    assert calls[0]["params"][0]["data"] == "0x6352211e" + f"{42:064x}"
    assert calls[0]["params"][1] == "latest"


async def test_an_outage_refuses_without_spending_the_nonce(
    started: Platform, node: tuple[EvmNode, str], owner: LocalAccount
) -> None:
    issued = await started.wallets.challenge(owner.address, "42")
    request = {
        "wallet_address": owner.address,
        "nft_token_id": "42",
        "signature": sign(owner, issued.message),
        "message": issued.message,
    }
    for failure in ("http_500", "rpc_error"):
        node[0].failure = failure  # type: ignore[assignment]
        with pytest.raises(Unavailable) as caught:
            await started.wallets.verify(**request)
        assert caught.value.service == "nft_ownership"
    node[0].failure = None
    await started.wallets.verify(**request)


# -- refresh and logout --------------------------------------------------------------------------


async def test_refresh_rechecks_ownership(
    started: Platform, node: tuple[EvmNode, str], owner: LocalAccount
) -> None:
    signed_in = await sign_in(started.wallets, owner)
    rotated = await started.wallets.refresh(signed_in.tokens.refresh_token)
    assert rotated.session_id == signed_in.tokens.session_id
    # an outage refuses this refresh, but keeps the session
    node[0].failure = "http_500"
    with pytest.raises(Unavailable):
        await started.wallets.refresh(rotated.refresh_token)
    node[0].failure = None
    rotated = await started.wallets.refresh(rotated.refresh_token)
    # the NFT is sold: the next refresh is refused and the session ends with it
    node[0].owners["42"] = Account.create().address
    with pytest.raises(Forbidden) as caught:
        await started.wallets.refresh(rotated.refresh_token)
    assert caught.value.reason == "NFT_NOT_OWNED"
    with pytest.raises(Unauthorized) as revoked:
        await started.identity.authenticate_bearer(rotated.access_token)
    assert revoked.value.reason == "SESSION_REVOKED"


async def test_refresh_takes_wallet_sessions_only(started: Platform) -> None:
    result = started.bootstrap_result
    assert result is not None
    sessions = started.identity.sessions
    assert sessions is not None
    pair = await sessions.open(Principal(result.tenant_id, result.admin_user_id), "password")
    with pytest.raises(Unauthorized) as caught:
        await started.wallets.refresh(pair.refresh_token)
    assert caught.value.reason == "NOT_A_WALLET_SESSION"


async def test_logout_ends_the_access_token(started: Platform, owner: LocalAccount) -> None:
    signed_in = await sign_in(started.wallets, owner)
    principal = await started.identity.authenticate_bearer(signed_in.tokens.access_token)
    await started.wallets.logout(principal)
    with pytest.raises(Unauthorized):
        await started.identity.authenticate_bearer(signed_in.tokens.access_token)
    with pytest.raises(Unauthorized):
        await started.wallets.refresh(signed_in.tokens.refresh_token)


# -- ownership sources -----------------------------------------------------------------------------


async def test_rpc_source_reads_owner_of(node: tuple[EvmNode, str]) -> None:
    evm, url = node
    owner = Account.create().address
    evm.owners["1"] = owner
    evm.owners[str(2**256 - 1)] = "0x" + "0" * 40  # burnt: the zero address owns it
    source = RpcOwnership(url, evm.contract, chain_id=CHAIN)
    assert await source.owner_of("1") == owner
    assert await source.owner_of("2") is None  # reverts: no such token
    assert await source.owner_of(str(2**256 - 1)) is None
    assert [c["method"] for c in evm.calls].count("eth_chainId") == 1  # checked once


async def test_rpc_source_refuses_a_node_it_cannot_trust(node: tuple[EvmNode, str]) -> None:
    evm, url = node
    with pytest.raises(Unavailable, match="serves chain 8453"):
        await RpcOwnership(url, evm.contract, chain_id=1).owner_of("1")
    other_contract = "0x" + "11" * 20
    with pytest.raises(Unavailable, match="MENAGERIE_NFT_CONTRACT"):
        await RpcOwnership(url, other_contract, chain_id=CHAIN).owner_of("1")
    evm.failure = "slow"
    evm.delay_s = 2.0
    with pytest.raises(Unavailable, match="in time"):
        await RpcOwnership(url, evm.contract, timeout_s=0.3).owner_of("1")


async def test_rpc_source_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = RpcOwnership(f"http://127.0.0.1:{port}", "0x" + "11" * 20, chain_id=1)
    with pytest.raises(Unavailable, match="unreachable") as caught:
        await source.owner_of("1")
    assert caught.value.service == "nft_ownership"


async def test_file_source(tmp_path: Path) -> None:
    owner = Account.create().address
    path = tmp_path / "owners.json"
    path.write_text(json.dumps({"7": owner.lower(), "0008": owner}))
    source = FileOwnership(path)
    assert await source.owner_of("7") == owner
    assert await source.owner_of("8") == owner
    assert await source.owner_of("9") is None
    path.write_text("{not json")
    with pytest.raises(Unavailable):
        await source.owner_of("7")
    path.write_text(json.dumps({"7": "nobody"}))
    with pytest.raises(Unavailable):
        await source.owner_of("7")
    with pytest.raises(Unavailable):
        await FileOwnership(tmp_path / "missing.json").owner_of("7")


async def test_sign_in_with_file_ownership(settings: Settings, tmp_path: Path) -> None:
    account = Account.create()
    path = tmp_path / "owners.json"
    path.write_text(json.dumps({"5": account.address}))
    platform = Platform.build(settings.model_copy(update={"nft_owners_file": path}))
    await platform.start()
    try:
        assert platform.wallets.domain == "127.0.0.1:8000"
        signed_in = await sign_in(platform.wallets, account, "5")
        assert signed_in.nft_token_id == "5"
        with pytest.raises(Forbidden):
            await sign_in(platform.wallets, Account.create(), "5")
    finally:
        await platform.stop()


async def test_unconfigured_sign_in_says_what_to_set(settings: Settings) -> None:
    platform = Platform.build(settings)
    await platform.start()
    try:
        # challenges are issued (they cost nothing); the signed one meets the clear refusal
        with pytest.raises(Unavailable, match="MENAGERIE_NFT_RPC_URL"):
            await sign_in(platform.wallets, Account.create(), "1")
    finally:
        await platform.stop()
