"""A Secret Panther: the agent of one NFT (seed 002 "Agent API").

Every NFT's agent runs one agent definition (the `panther` persona). Its conversations carry
the token id in their metadata, so a conversation of one NFT's agent is never reachable
through another's, even by the same wallet holding both; a conversation id of anything else
(another NFT, another agent, another user) answers as not found.

Whether an NFT's agent exists is decided here too, from what core knows: the NFT (its owner
in the ownership source) and the agent definition. It never claims more than that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from menagerie.core.agents.definitions import AgentCatalog
from menagerie.core.agents.models import AgentDefinition
from menagerie.core.chat.models import ChatSession, HistoryPage, HistoryQuery
from menagerie.core.chat.service import ChatService
from menagerie.core.errors import NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.identity.wallet import siwe
from menagerie.core.identity.wallet.service import WalletService

PANTHER = "panther"
NFT_KEY = "nft_token_id"  # the session metadata key naming the conversation's NFT

AgentStatus = Literal["running", "unknown"]


@dataclass(frozen=True, slots=True)
class NftAgent:
    """One NFT's agent, as far as core can tell."""

    nft_token_id: str
    definition: AgentDefinition
    # running: the NFT exists and its agent definition is loaded, so this server answers
    # for it; unknown: the ownership source cannot say now whether the NFT exists
    status: AgentStatus
    basis: str  # why the status is what it is, in words


class NftAgents:
    def __init__(
        self,
        chat: ChatService,
        wallets: WalletService,
        catalog: AgentCatalog,
        *,
        agent: str = PANTHER,
    ) -> None:
        self._chat = chat
        self._wallets = wallets
        self._catalog = catalog
        self.agent_name = agent

    # -- the agent ----------------------------------------------------------------------------

    async def agent(self, nft_token_id: str) -> NftAgent:
        """The NFT's agent; NotFound when the NFT does not exist (or the definition is gone)."""
        nft = siwe.token_id(nft_token_id)
        definition = self._catalog.get(self.agent_name)
        exists = await self._wallets.nft_exists(nft)
        if exists is False:
            raise NotFound(
                f"NFT #{nft} does not exist, so it has no agent",
                reason="NFT_NOT_FOUND",
                details={NFT_KEY: nft},
            )
        if exists is None:
            return NftAgent(
                nft,
                definition,
                "unknown",
                "the NFT ownership source cannot answer now, so whether NFT "
                f"#{nft} exists is not known",
            )
        return NftAgent(
            nft,
            definition,
            "running",
            f"NFT #{nft} exists and agent '{definition.name}' is loaded on this server",
        )

    # -- its conversations --------------------------------------------------------------------

    @staticmethod
    def belongs_to(session: ChatSession, nft_token_id: str) -> bool:
        return str(session.metadata.get(NFT_KEY)) == nft_token_id

    async def conversation(
        self, principal: Principal, nft_token_id: str, conversation_id: str
    ) -> ChatSession:
        """An existing conversation of this NFT's agent, visible to the caller."""
        nft_token_id = siwe.token_id(nft_token_id)
        try:
            session = await self._chat.get_session(principal, conversation_id)
        except NotFound:
            session = None
        if session is None or not self._is_ours(session, nft_token_id):
            raise self._not_found(conversation_id)
        return session

    async def open_conversation(
        self, principal: Principal, nft_token_id: str, conversation_id: str | None
    ) -> ChatSession:
        """The conversation a chat turn goes to: the named one (created for this NFT when no
        conversation has that id yet), or a new one."""
        nft_token_id = siwe.token_id(nft_token_id)
        metadata = {NFT_KEY: nft_token_id}
        if conversation_id is None:
            return await self._chat.create_session(principal, self.agent_name, metadata=metadata)
        # one call that finds or creates, so that two racing first turns share one session
        session = await self._chat.get_or_create_session(
            principal, conversation_id, self.agent_name, metadata=metadata
        )
        if not self._is_ours(session, nft_token_id):
            raise self._not_found(conversation_id)
        return session

    async def history(
        self,
        principal: Principal,
        nft_token_id: str,
        conversation_id: str,
        *,
        limit: int,
        offset: int,
    ) -> tuple[ChatSession, HistoryPage]:
        """A window of the conversation's user and agent messages, oldest first."""
        session = await self.conversation(principal, nft_token_id, conversation_id)
        page = await self._chat.history(
            principal, session.id, HistoryQuery(limit=limit, offset=offset, roles=("user", "agent"))
        )
        return session, page

    async def clear(self, principal: Principal, nft_token_id: str, conversation_id: str) -> int:
        """Remove the conversation's messages (it stays, empty); how many went."""
        session = await self.conversation(principal, nft_token_id, conversation_id)
        return await self._chat.clear(principal, session.id)

    def _is_ours(self, session: ChatSession, nft_token_id: str) -> bool:
        return session.agent_id == self.agent_name and self.belongs_to(session, nft_token_id)

    @staticmethod
    def _not_found(conversation_id: str) -> NotFound:
        return NotFound(
            f"conversation {conversation_id} not found",
            reason="CONVERSATION_NOT_FOUND",
            details={"conversation_id": conversation_id},
        )
