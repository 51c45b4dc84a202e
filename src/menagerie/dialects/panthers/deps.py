"""This dialect's request dependencies: the shared platform, principal and admin guard, the
NFT in an agent route's path, and the agent API's own scheme (a session for that NFT)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from menagerie.core.chat.nft import NftAgents
from menagerie.core.identity.models import Principal
from menagerie.core.identity.wallet import siwe
from menagerie.dialects.panthers.schemas import TOKEN_ID_PATTERN
from menagerie.http.deps import (
    AdminDep,
    OptionalPrincipalDep,
    PlatformDep,
    PrincipalDep,
    get_platform,
    require_principal,
)
from menagerie.platform import Platform


def nft_agents_of(platform: Platform) -> NftAgents:
    return NftAgents(platform.chat, platform.wallets, platform.agents.catalog)


async def nft_agents(request: Request) -> NftAgents:  # async: no worker-thread hop
    return nft_agents_of(get_platform(request))


async def nft_in_path(
    nft_token_id: Annotated[str, Path(pattern=TOKEN_ID_PATTERN, examples=["123"])],
) -> str:
    """The path's token id in canonical decimal (`077` is NFT 77)."""
    return siwe.token_id(nft_token_id)


async def require_agent_principal(
    request: Request,
    # first: a caller without credentials is told so (401) before anything of the path
    principal: Annotated[Principal, Depends(require_principal)],
    nft_token_id: Annotated[str, Depends(nft_in_path)],
) -> Principal:
    """An agent route's caller: signed in for this NFT (or an admin), else 401/403."""
    await get_platform(request).wallets.authorize_agent(principal, nft_token_id)
    return principal


NftDep = Annotated[str, Depends(nft_in_path)]
NftAgentsDep = Annotated[NftAgents, Depends(nft_agents)]
AgentPrincipalDep = Annotated[Principal, Depends(require_agent_principal)]

__all__ = [
    "AdminDep",
    "AgentPrincipalDep",
    "NftAgentsDep",
    "NftDep",
    "OptionalPrincipalDep",
    "PlatformDep",
    "PrincipalDep",
]
