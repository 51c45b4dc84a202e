"""Who owns an NFT: an ERC-721 contract read through an EVM node, or a JSON file in development.

`owner_of` answers the owner's EIP-55 address, or None for a token that does not exist (the
contract reverts, or answers the zero address). A source that cannot answer right now raises
`Unavailable("nft_ownership")`: never a guess, and never a refusal that blames the caller.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from pathlib import Path
from typing import Any, Protocol

import httpx
from eth_utils import to_checksum_address

from menagerie.core.errors import Invalid, Unavailable
from menagerie.core.identity.wallet.siwe import checksum_address

log = logging.getLogger(__name__)

SERVICE = "nft_ownership"
OWNER_OF = "0x6352211e"  # keccak256("ownerOf(uint256)")[:4]
ZERO_ADDRESS = "0x" + "0" * 40
# JSON-RPC error codes nodes use for a call that reverted (geth/erigon: 3, with revert data;
# older geth and many providers: -32000 "execution reverted"; Nethermind/Parity: -32015)
_REVERT_CODES = {3, -32015}


class OwnershipSource(Protocol):
    name: str

    async def owner_of(self, token_id: str) -> str | None:
        """The owner's checksummed address; None if the token does not exist."""
        ...


class Unconfigured:
    """No source set: wallet sign-in answers 503 and says what to set."""

    name = "unconfigured"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def owner_of(self, token_id: str) -> str | None:
        raise Unavailable(self.reason, service=SERVICE)


class RpcOwnership:
    """`ownerOf(uint256)` on an ERC-721 contract, by `eth_call` at the latest block."""

    name = "rpc"

    def __init__(
        self,
        url: str,
        contract: str,
        *,
        chain_id: int | None = None,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.contract = checksum_address(contract, field="nft_contract")
        self.chain_id = chain_id
        self._timeout = httpx.Timeout(timeout_s)
        self._transport = transport
        self._ids = itertools.count(1)
        self._chain_checked = False

    async def owner_of(self, token_id: str) -> str | None:
        data = OWNER_OF + int(token_id).to_bytes(32, "big").hex()
        async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as http:
            if self.chain_id is not None and not self._chain_checked:
                await self._check_chain(http)
            try:
                result = await self._call(
                    http, "eth_call", [{"to": self.contract, "data": data}, "latest"]
                )
            except _Reverted:
                return None
        return self._decode_address(result)

    async def _check_chain(self, http: httpx.AsyncClient) -> None:
        """Ownership read on another chain than the one users sign for would be wrong."""
        try:
            answer = await self._call(http, "eth_chainId", [])
            served = int(str(answer), 16)
        except (_Reverted, ValueError) as exc:
            raise self._unavailable(f"eth_chainId gave no chain id: {exc}") from exc
        if served != self.chain_id:
            raise self._unavailable(
                f"the node at MENAGERIE_NFT_RPC_URL serves chain {served}, but sign-in is for "
                f"chain {self.chain_id} (MENAGERIE_SIWE_CHAIN_ID)"
            )
        self._chain_checked = True

    async def _call(self, http: httpx.AsyncClient, method: str, params: list[Any]) -> Any:
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            response = await http.post(self.url, json=request)
        except httpx.TimeoutException as exc:
            raise self._unavailable("the NFT ownership node did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise self._unavailable(
                f"the NFT ownership node is unreachable: {type(exc).__name__}"
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise self._unavailable(f"the NFT ownership node answered HTTP {response.status_code}")
        error = body.get("error")
        if error is not None:
            if _is_revert(error):
                raise _Reverted(str(error.get("message", "execution reverted")))
            message = error.get("message") if isinstance(error, dict) else error
            raise self._unavailable(f"the NFT ownership node refused {method}: {message}")
        if response.status_code >= 400 or "result" not in body:
            raise self._unavailable(f"the NFT ownership node answered HTTP {response.status_code}")
        return body["result"]

    def _decode_address(self, result: Any) -> str | None:
        if not isinstance(result, str) or not result.startswith("0x"):
            raise self._unavailable("eth_call returned no hex data")
        raw = result[2:]
        if raw == "":
            # no code at the address: a wrong contract or a node on another chain
            raise self._unavailable(
                f"no contract answers ownerOf at {self.contract} (MENAGERIE_NFT_CONTRACT)"
            )
        try:
            word = bytes.fromhex(raw[:64])
        except ValueError as exc:
            raise self._unavailable("eth_call returned malformed data") from exc
        if len(word) != 32 or any(word[:12]):
            raise self._unavailable("ownerOf returned something that is not an address")
        owner = to_checksum_address("0x" + word[12:].hex())
        return None if owner == ZERO_ADDRESS else owner

    def _unavailable(self, message: str) -> Unavailable:
        log.warning("NFT ownership lookup failed: %s", message)
        return Unavailable(message, service=SERVICE)


class _Reverted(Exception):
    pass


def _is_revert(error: Any) -> bool:
    if not isinstance(error, dict):
        return False
    if error.get("code") in _REVERT_CODES:
        return True
    return "revert" in str(error.get("message", "")).lower()


class FileOwnership:
    """Development: a JSON object mapping token ids to owner addresses, read on every lookup
    so that editing the file takes effect at once."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    async def owner_of(self, token_id: str) -> str | None:
        owners = await asyncio.to_thread(self._load)
        return owners.get(token_id)

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise Unavailable(
                f"cannot read MENAGERIE_NFT_OWNERS_FILE ({self.path}): {type(exc).__name__}",
                service=SERVICE,
            ) from exc
        if not isinstance(data, dict):
            raise Unavailable(
                "MENAGERIE_NFT_OWNERS_FILE must hold a JSON object {token_id: owner}",
                service=SERVICE,
            )
        owners: dict[str, str] = {}
        for key, owner in data.items():
            try:
                owners[str(int(str(key)))] = checksum_address(str(owner), field="owner")
            except (Invalid, ValueError) as exc:
                raise Unavailable(
                    f"MENAGERIE_NFT_OWNERS_FILE: token {key!r} has no valid owner address",
                    service=SERVICE,
                ) from exc
        return owners


def from_settings(
    *,
    rpc_url: str | None,
    contract: str | None,
    owners_file: Path | None,
    chain_id: int,
) -> OwnershipSource:
    """The source the settings name: a node and contract first, else the file, else none."""
    if rpc_url:
        if not contract:
            return Unconfigured("MENAGERIE_NFT_RPC_URL is set but MENAGERIE_NFT_CONTRACT is not")
        try:
            source = RpcOwnership(rpc_url, contract, chain_id=chain_id)
        except Invalid:
            return Unconfigured("MENAGERIE_NFT_CONTRACT is not an Ethereum address")
        if owners_file:
            log.warning("MENAGERIE_NFT_OWNERS_FILE is ignored: ownership comes from the node")
        return source
    if owners_file:
        return FileOwnership(owners_file)
    return Unconfigured(
        "wallet sign-in is not configured: set MENAGERIE_NFT_RPC_URL and "
        "MENAGERIE_NFT_CONTRACT, or MENAGERIE_NFT_OWNERS_FILE for development"
    )
