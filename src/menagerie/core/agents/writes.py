"""A turn's database work: two transactions, a small constant of statements whatever the
session's length.

1. **The question** (`open`): the session is counted up or made, the user's message
   inserted and the history window read, committed before any model is called; meanwhile
   the question is embedded in the embedder's thread, and the memories recalled for it are
   then ranked and read, outside any transaction (reads alone, rolled back).
2. **The answer** (`close`): the facts in the question are mined (rules, or a call to a
   capable model) and reconciled with the user's memories (reads), then the answer is
   appended, the recalled memories' access counted and the memories saved, updated or
   deleted, committed together: a turn killed in between leaves its question without its
   answer, never the reverse, and never an answer without the memories it taught.

The session's row is locked (counted up) before any memory's, so that two turns of a session
never wait on each other in a circle. Tool results are stored as they come, each in a
transaction of its own (`add_message`), between the two.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.agents import extraction
from menagerie.core.agents.models import AgentDefinition
from menagerie.core.chat.models import MAX_MESSAGE_CHARS, ChatSession, Line, Message
from menagerie.core.chat.service import ChatService
from menagerie.core.chat.turns import NewMessage, OpenedTurn
from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid
from menagerie.core.identity.models import Principal
from menagerie.core.llm.router import Router
from menagerie.core.memory import applying, reconcile
from menagerie.core.memory.models import Memory, MemoryDraft, ScoredMemory
from menagerie.core.memory.service import MemoryService

if TYPE_CHECKING:
    from menagerie.core.agents.runtime import TurnRequest

log = logging.getLogger(__name__)

HISTORY_READ = 200  # newest messages read to fill the context window: never the whole session
_WRITE_ATTEMPTS = 8  # the question's transaction, when a racing writer took its position


@dataclass(frozen=True, slots=True)
class Opened:
    session: ChatSession
    message: Message | None  # the user's message this turn posted, if it posted one
    question: Line  # the message the turn answers
    history: list[Line]  # the newest messages, oldest first, the question among them
    recalled: list[ScoredMemory]  # for the model: the agent's categories
    accessed: list[str]  # the memories recalled, whose access the answer counts


@dataclass(frozen=True, slots=True)
class Answer:
    """What the model said, and what saying it cost."""

    text: str
    model: str
    provider: str
    input_tokens: int
    output_tokens: int
    cost: float
    latency_ms: float
    steps: int


class TurnWrites:
    def __init__(self, chat: ChatService, memory: MemoryService, router: Router) -> None:
        self.chat = chat
        self.memory = memory
        self.router = router

    async def open(
        self, principal: Principal, agent: AgentDefinition, request: TurnRequest
    ) -> Opened:
        """The question's transaction (the session made when new, the user's message, the
        history window), then the memories recalled for the question, read alone.

        The question is embedded in the embedder's thread from the start, so the store's
        writes and the text leg of recall run while it is; no write lock is held meanwhile
        (SQLite has one for the whole database), and the access of what was recalled is
        counted with the answer."""
        recall = agent.memory.enabled and agent.memory.recall_limit > 0
        message = None
        if request.message is not None:
            message = NewMessage(
                "user",
                request.message,
                reply_to_id=request.reply_to_id,
                metadata=request.message_metadata,
            )
        meaning = None
        if recall and message is not None:
            self.chat.check_message(message.role, message.content)  # before any work on it
            meaning = self.memory.embed_soon(message.content)
        try:
            opened = await self._store_question(principal, agent, request, message)
            question = _question(opened.history, opened.message, request.reply_to_id)
            # with nothing to answer, a session the request made stays, as it asked
            if question is None:
                raise _no_question(request.reply_to_id)
            recalled: list[ScoredMemory] = []
            if recall:
                async with self.memory.reading() as db:
                    ranked = await self.memory.rank(
                        db,
                        principal,
                        question.content,
                        limit=agent.memory.recall_limit,
                        meaning=meaning if opened.message is not None else None,
                    )
                    recalled = await self.memory.read(db, ranked)
        finally:
            if meaning is not None and not meaning.done():
                meaning.cancel()
        accessed = [hit.memory.id for hit in recalled]
        if agent.memory.categories:
            recalled = [hit for hit in recalled if hit.memory.category in agent.memory.categories]
        return Opened(opened.session, opened.message, question, opened.history, recalled, accessed)

    async def _store_question(
        self,
        principal: Principal,
        agent: AgentDefinition,
        request: TurnRequest,
        message: NewMessage | None,
    ) -> OpenedTurn:
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                async with self.chat.transaction() as db:
                    return await self.chat.open_turn(
                        db,
                        principal,
                        agent_id=agent.name,
                        session_id=request.session_id,
                        create=request.create_session,
                        message=message,
                        window=HISTORY_READ,
                        metadata=request.session_metadata,
                    )
            except IntegrityError:
                # two writers took the same position; the session counter moved, try again
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def close(
        self, principal: Principal, agent: AgentDefinition, opened: Opened, answer: Answer
    ) -> tuple[Message, list[Memory]]:
        """The answer's transaction: the answer, the access of the memories recalled for it,
        and the memories mined from the question. The rules reconcile the facts inside the
        transaction, reading before its first write; a model's reconciliation (a call) reads
        and decides before it.

        Should the memories' writes fail (a racing write of the same memory), the transaction
        is lost whole, and the answer is stored alone, then each memory in a transaction of
        its own: the answer is never lost for its memories."""
        session, question = opened.session, opened.question
        parts = _parts(answer, question)
        drafts: list[MemoryDraft] = []
        if agent.memory.enabled and agent.memory.extract:
            drafts = await self._drafts(principal, agent, question, answer)
        embedded: dict[str, np.ndarray] = {}  # vectors by text: each text embedded once
        decisions = None
        if drafts and answer.provider != extraction.OFFLINE_PROVIDER:
            decisions = await self._reconcile(principal, session, drafts, answer, embedded, None)
        written = False
        try:
            async with self.chat.transaction() as db:
                if drafts and decisions is None:
                    decisions = await self._reconcile(
                        principal, session, drafts, answer, embedded, db
                    )
                missing = [t for t in applying.texts(decisions or []) if t not in embedded]
                if missing:  # before the first write: no write lock is held meanwhile
                    embedded.update(await self.memory.embed(missing))
                stored = await self.chat.append(db, principal, session.id, parts)
                # the session's row first, as every transaction of a turn takes it, then
                # the memories': two turns of a session never wait on each other in a circle
                await self.memory.count_access(db, opened.accessed, utcnow())
                remembered = await applying.apply_in(
                    self.memory, db, principal, decisions or [], embedded
                )
                written = True
        except Exception:
            if written:  # the commit itself failed: whether it holds is not known here
                raise
            log.warning(
                "the answer and its memories could not be stored together in session %s; "
                "storing them one by one",
                session.id,
                exc_info=True,
            )
            stored = [
                await self.chat.add_message(principal, session.id, **_fields(part))
                for part in parts
            ]
            if opened.accessed:
                async with self.memory.transaction() as db:
                    await self.memory.count_access(db, opened.accessed, utcnow())
            remembered = []
            if drafts:
                if decisions is None:
                    decisions = await self._reconcile(principal, session, drafts, answer, {}, None)
                remembered = await applying.apply(self.memory, principal, decisions)
        return stored[-1], remembered

    async def _drafts(
        self, principal: Principal, agent: AgentDefinition, said: Line, answer: Answer
    ) -> list[MemoryDraft]:
        """The facts in what the user said (the message answered, posted with this turn or
        before it: the store's keys make them idempotent)."""
        drafts = await extraction.extract(
            self.router,
            said.content,
            provider=answer.provider,
            model_id=answer.model,
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
        )
        return [draft.model_copy(update={"agent_id": agent.name}) for draft in drafts]

    async def _reconcile(
        self,
        principal: Principal,
        session: ChatSession,
        drafts: list[MemoryDraft],
        answer: Answer,
        embedded: dict[str, np.ndarray],
        db: AsyncSession | None,
    ) -> list[reconcile.Decision]:
        """Against what the user's memory holds: added, updated, deleted or already known.
        Inside the answer's transaction (`db`) an error is raised, for the transaction is
        lost with it; outside, the turn never fails for it: the facts are saved as they
        are."""
        try:
            return await reconcile.reconcile(
                self.memory,
                principal,
                drafts,
                router=self.router,
                provider=answer.provider,
                model_id=answer.model,
                session=db,
                embedded=embedded,
            )
        except Exception:
            if db is not None:
                raise
            log.exception("memory reconciliation failed for session %s", session.id)
            return [reconcile.Decision(reconcile.Action.ADD, draft) for draft in drafts]


def _parts(answer: Answer, question: Line) -> list[NewMessage]:
    """The answer as messages: one past the message limit is stored in full, over several
    messages, the last carrying the turn's tokens, cost and time."""
    text = answer.text.strip() or "(the model gave no answer)"
    pieces = [text[i : i + MAX_MESSAGE_CHARS] for i in range(0, len(text), MAX_MESSAGE_CHARS)]
    return [
        NewMessage(
            "agent",
            piece,
            reply_to_id=question.id,
            model=answer.model,
            input_tokens=answer.input_tokens if last else 0,
            output_tokens=answer.output_tokens if last else 0,
            cost=answer.cost if last else 0.0,
            latency_ms=answer.latency_ms if last else None,
            metadata={"provider": answer.provider, "steps": answer.steps},
        )
        for last, piece in ((i == len(pieces) - 1, piece) for i, piece in enumerate(pieces))
    ]


def _fields(message: NewMessage) -> dict[str, Any]:
    """`add_message`'s arguments for a message of the answer."""
    return {
        "role": message.role,
        "content": message.content,
        "reply_to_id": message.reply_to_id,
        "model": message.model,
        "input_tokens": message.input_tokens,
        "output_tokens": message.output_tokens,
        "cost": message.cost,
        "latency_ms": message.latency_ms,
        "metadata": message.metadata,
    }


def _question(history: list[Line], stored: Message | None, reply_to_id: str | None) -> Line | None:
    """The message this turn answers; None when there is none to answer."""
    if stored is not None:
        return Line(stored.id, stored.role, stored.content)
    for message in reversed(history):
        if message.role == "user" and (reply_to_id is None or message.id == reply_to_id):
            return message
    return None


def _no_question(reply_to_id: str | None) -> Invalid:
    if reply_to_id is not None:
        return Invalid(
            "replyToId names no user message among the session's recent messages",
            field="replyToId",
            received=reply_to_id,
        )
    return Invalid(
        "the session holds no user message to answer; post one first",
        field="message",
        reason="NO_USER_MESSAGE",
    )
