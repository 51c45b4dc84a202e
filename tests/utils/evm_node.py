"""A local EVM JSON-RPC node for tests: an ERC-721 contract's `ownerOf` through `eth_call`.

It answers as geth does: `eth_chainId` in hex, `eth_call` at the contract with the 32-byte
owner word, a revert (JSON-RPC error 3 with the ERC721NonexistentToken error data) for a
token nobody owns, `0x` for a call to an address without code, -32601 for other methods.
`failure` makes it misbehave: "http_500" (an overloaded gateway), "rpc_error" (a node-side
error, not a revert), "slow" (answers after `delay_s`).

    node = EvmNode()
    async with serve(node.app()) as url:
        node.owners["7"] = account.address
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

OWNER_OF = "0x6352211e"
NONEXISTENT_TOKEN = "0x7e273289"  # ERC721NonexistentToken(uint256), OpenZeppelin 5
CONTRACT = "0x5Af0D9827E0c53E4799BB226655A1de152A425a5"  # any fixed address will do

Failure = Literal["http_500", "rpc_error", "slow"]


@dataclass
class EvmNode:
    chain_id: int = 1
    contract: str = CONTRACT
    owners: dict[str, str] = field(default_factory=dict)  # decimal token id -> address
    failure: Failure | None = None
    delay_s: float = 5.0
    calls: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/")
        async def rpc(request: Request) -> JSONResponse:
            body = await request.json()
            self.calls.append(body)
            if self.failure == "http_500":
                return JSONResponse({"message": "upstream overloaded"}, status_code=500)
            if self.failure == "slow":
                await asyncio.sleep(self.delay_s)
            if self.failure == "rpc_error":
                return _error(body, -32603, "internal error: state unavailable")
            return self._answer(body)

        return app

    def _answer(self, body: dict[str, Any]) -> JSONResponse:
        method = body.get("method")
        params = body.get("params") or []
        if method == "eth_chainId":
            return _result(body, hex(self.chain_id))
        if method != "eth_call":
            return _error(body, -32601, f"the method {method} does not exist/is not available")
        call = params[0] if params else {}
        if str(call.get("to", "")).lower() != self.contract.lower():
            return _result(body, "0x")  # no code at that address: an empty return
        data = str(call.get("data") or call.get("input") or "")
        if not data.startswith(OWNER_OF) or len(data) != 10 + 64:
            return _error(body, -32000, "execution reverted")
        token = str(int(data[10:], 16))
        owner = self.owners.get(token)
        if owner is None:
            revert_data = NONEXISTENT_TOKEN + int(token).to_bytes(32, "big").hex()
            return _error(body, 3, "execution reverted", revert_data)
        return _result(body, "0x" + "0" * 24 + owner[2:].lower())


def _result(body: dict[str, Any], result: Any) -> JSONResponse:
    return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "result": result})


def _error(body: dict[str, Any], code: int, message: str, data: str | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "error": error})
