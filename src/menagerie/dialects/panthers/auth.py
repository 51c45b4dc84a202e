"""Panthers wallet sign-in: the orchestrator's `/auth/*` and each agent's `/auth/verify`.

A client asks for a challenge (an EIP-4361 message), signs it with the wallet that owns the
NFT, and trades message and signature for a session. The agent API's own `/auth/verify`
takes a challenge issued for that agent's NFT and answers an access token only.
"""

from __future__ import annotations

from fastapi import APIRouter

from menagerie.core.clock import iso
from menagerie.core.identity.wallet.service import AGENT, ORCHESTRATOR
from menagerie.dialects.panthers.deps import NftDep, PlatformDep, PrincipalDep
from menagerie.dialects.panthers.schemas import (
    AgentVerifyRequest,
    AgentVerifyResponse,
    ChallengeRequest,
    ChallengeResponse,
    MessageResponse,
    RefreshRequest,
    RefreshResponse,
    VerifyRequest,
    VerifyResponse,
)
from menagerie.http.openapi import errors

router = APIRouter(prefix="/auth", tags=["authentication"])
agent_router = APIRouter(prefix="/agents/{nft_token_id}", tags=["agent"])


@router.post("/challenge", response_model=ChallengeResponse)
async def challenge(body: ChallengeRequest, platform: PlatformDep) -> ChallengeResponse:
    issued = await platform.wallets.challenge(body.wallet_address, body.nft_token_id)
    return ChallengeResponse(
        message=issued.message, nonce=issued.nonce, expires_at=iso(issued.expires_at) or ""
    )


# 401: the message or signature does not check out; 403: the wallet does not own the NFT;
# 503: the NFT ownership source cannot answer
@router.post("/verify", response_model=VerifyResponse, responses=errors(401, 403, 503))
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


@router.post("/refresh", response_model=RefreshResponse, responses=errors(401, 403, 503))
async def refresh(body: RefreshRequest, platform: PlatformDep) -> RefreshResponse:
    tokens = await platform.wallets.refresh(body.refresh_token)
    return RefreshResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
    )


# 403: the credential is no session (an API key) and has nothing to log out of
@router.post("/logout", response_model=MessageResponse, responses=errors(403))
async def logout(platform: PlatformDep, principal: PrincipalDep) -> MessageResponse:
    await platform.wallets.logout(principal)
    return MessageResponse(message="Logged out: the session has been revoked")


@agent_router.post(
    "/auth/verify",
    response_model=AgentVerifyResponse,
    responses=errors(400, 401, 403, 503),
    tags=["authentication"],
)
async def agent_verify(
    nft_token_id: NftDep, body: AgentVerifyRequest, platform: PlatformDep
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
