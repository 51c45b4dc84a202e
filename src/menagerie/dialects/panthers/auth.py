"""Panthers wallet sign-in: the orchestrator's `/auth/*` and each agent's `/auth/verify`.

A client asks for a challenge (an EIP-4361 message), signs it with the wallet that owns the
NFT, and trades message and signature for a session. The agent API's own `/auth/verify`
takes a challenge issued for that agent's NFT and answers an access token only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from menagerie.core.clock import iso
from menagerie.core.identity.models import Principal
from menagerie.core.identity.wallet.service import AGENT, ORCHESTRATOR
from menagerie.http.deps import get_platform, require_principal
from menagerie.platform import Platform

router = APIRouter(prefix="/auth", tags=["authentication"])
agent_router = APIRouter(prefix="/agents/{nft_token_id}", tags=["agent"])

PlatformDep = Annotated[Platform, Depends(get_platform)]
WalletAddress = Annotated[str, Field(max_length=64, examples=["0x" + "ab" * 20])]
TokenId = Annotated[str | int, Field(examples=["123"])]
Signature = Annotated[str, Field(max_length=300, description="65-byte signature, hex")]
Message = Annotated[str, Field(max_length=4000, description="the challenge message, unchanged")]


class ChallengeRequest(BaseModel):
    wallet_address: WalletAddress
    nft_token_id: TokenId


class ChallengeResponse(BaseModel):
    message: str
    nonce: str
    expires_at: str


class VerifyRequest(BaseModel):
    wallet_address: WalletAddress
    nft_token_id: TokenId
    signature: Signature
    message: Message


class VerifyResponse(BaseModel):
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str


class RefreshRequest(BaseModel):
    refresh_token: Annotated[str, Field(max_length=200)]


class RefreshResponse(BaseModel):
    access_token: str
    expires_in: int
    # refresh tokens are single-use: the next refresh needs this one
    refresh_token: str


class MessageResponse(BaseModel):
    message: str


class AgentVerifyRequest(BaseModel):
    wallet_address: WalletAddress
    signature: Signature
    message: Message


class AgentVerifyResponse(BaseModel):
    access_token: str
    expires_in: int


@router.post("/challenge", response_model=ChallengeResponse)
async def challenge(body: ChallengeRequest, platform: PlatformDep) -> ChallengeResponse:
    issued = await platform.wallets.challenge(body.wallet_address, body.nft_token_id)
    return ChallengeResponse(
        message=issued.message, nonce=issued.nonce, expires_at=iso(issued.expires_at) or ""
    )


@router.post("/verify", response_model=VerifyResponse)
async def verify(body: VerifyRequest, platform: PlatformDep) -> VerifyResponse:
    signed_in = await platform.wallets.verify(
        wallet_address=body.wallet_address,
        nft_token_id=body.nft_token_id,
        signature=body.signature,
        message=body.message,
        scope=ORCHESTRATOR,
    )
    tokens = signed_in.tokens
    return VerifyResponse(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        session_id=tokens.session_id,
    )


@router.post("/refresh", response_model=RefreshResponse)
async def refresh(body: RefreshRequest, platform: PlatformDep) -> RefreshResponse:
    tokens = await platform.wallets.refresh(body.refresh_token)
    return RefreshResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
    )


@router.post("/logout", response_model=MessageResponse)
async def logout(
    platform: PlatformDep, principal: Annotated[Principal, Depends(require_principal)]
) -> MessageResponse:
    await platform.wallets.logout(principal)
    return MessageResponse(message="Logged out: the session has been revoked")


@agent_router.post("/auth/verify", response_model=AgentVerifyResponse, tags=["authentication"])
async def agent_verify(
    nft_token_id: str, body: AgentVerifyRequest, platform: PlatformDep
) -> AgentVerifyResponse:
    signed_in = await platform.wallets.verify(
        wallet_address=body.wallet_address,
        nft_token_id=nft_token_id,
        signature=body.signature,
        message=body.message,
        scope=AGENT,
    )
    return AgentVerifyResponse(
        access_token=signed_in.tokens.access_token, expires_in=signed_in.tokens.expires_in
    )
