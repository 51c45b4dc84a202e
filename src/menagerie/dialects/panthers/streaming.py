"""One chat turn of an NFT's agent, and its events as `chat_chunk`s (seed 002 "Chat
Streaming"): the same over SSE and over both sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator

from menagerie.core.agents.events import AgentEvent, TextChunk, TurnDone
from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.chat.nft import NftAgents
from menagerie.core.identity.models import Principal
from menagerie.dialects.panthers.schemas import ChatChunk
from menagerie.platform import Platform


async def turn(
    platform: Platform,
    agents: NftAgents,
    principal: Principal,
    nft_token_id: str,
    message: str,
    conversation_id: str | None,
) -> AsyncIterator[AgentEvent]:
    """The agent's events for one message, in the NFT's conversation."""
    session = await agents.open_conversation(principal, nft_token_id, conversation_id)
    request = TurnRequest(
        agent=agents.agent_name, message=message, session_id=session.id, create_session=False
    )
    async for event in platform.agents.run(principal, request):
        yield event


def chunk(event: AgentEvent) -> ChatChunk | None:
    """The `chat_chunk` for an agent event; None for events the seed does not stream."""
    if isinstance(event, TextChunk):
        return ChatChunk(content=event.text, done=False)
    if isinstance(event, TurnDone):
        return ChatChunk(
            content="",
            done=True,
            conversation_id=event.message.session_id,
            tokens_used=event.input_tokens + event.output_tokens,
        )
    return None


def wire(item: ChatChunk) -> dict[str, object]:
    # the last chunk's extra fields only where they have a value
    return item.model_dump(mode="json", exclude_none=True)
