"""Reconciliation's decisions carried out (`reconcile.py` makes them): each in a transaction
of its own (`apply`), or all in the caller's (`apply_in`, the answer's transaction of a
turn), with the vectors the caller embedded before it (`texts` says which)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.errors import MenagerieError, QuotaExceeded
from menagerie.core.identity.models import Principal
from menagerie.core.memory.models import Memory, MemoryDraft
from menagerie.core.memory.reconcile import Action, Decision
from menagerie.core.memory.service import MemoryService

log = logging.getLogger(__name__)


async def apply(
    memory: MemoryService, principal: Principal, decisions: Sequence[Decision]
) -> list[Memory]:
    """Carry the decisions out, each in a transaction of its own; the memories saved or
    updated, in order. A decision that cannot be carried out is logged and passed over; a
    full quota ends the saving."""
    saved: list[Memory] = []
    for decision in decisions:
        try:
            if decision.action is Action.ADD and decision.draft is not None:
                saved.append(await memory.save(principal, decision.draft))
            elif decision.action is Action.UPDATE and decision.draft and decision.target:
                saved.append(await _update(memory, principal, decision.draft, decision.target))
            elif decision.action is Action.DELETE and decision.target is not None:
                await _forget(memory, principal, decision.target.id)
        except QuotaExceeded as error:  # a full memory quota must not fail the answer
            log.info("memory not saved: %s", error.message)
            break
        except MenagerieError as error:
            log.info("memory decision %s not carried out: %s", decision.action, error.message)
    return saved


def texts(decisions: Sequence[Decision]) -> list[str]:
    """The texts `apply_in` saves: what to embed before the transaction writes."""
    return [draft.text() for draft in map(_to_save, decisions) if draft is not None]


def _to_save(decision: Decision) -> MemoryDraft | None:
    """What a decision saves: an ADD's draft, an UPDATE's under its target's identity."""
    if decision.draft is None:
        return None
    if decision.action is Action.ADD:
        return decision.draft
    if decision.action is Action.UPDATE and decision.target is not None:
        return _in_place(decision.draft, decision.target)
    return None


async def apply_in(
    memory: MemoryService,
    session: AsyncSession,
    principal: Principal,
    decisions: Sequence[Decision],
    embedded: dict[str, np.ndarray],
) -> list[Memory]:
    """`apply` inside the caller's transaction, with the vectors of `texts(decisions)` in
    `embedded` (a text missing there is saved without, for the backfill). A refusal
    (`MenagerieError`) is passed over as `apply` does; a database error is raised, and the
    caller's transaction is lost with it (`apply` is then the way to write them)."""
    saved: list[Memory] = []
    for decision in decisions:
        draft = _to_save(decision)
        try:
            if draft is not None:
                stored = await memory.save_in(session, principal, draft, embedded.get(draft.text()))
                if decision.target is not None and stored.id != decision.target.id:
                    # an UPDATE landing on another row: the fact is still held once
                    await _forget_in(memory, session, principal, decision.target.id)
                saved.append(stored)
            elif decision.action is Action.DELETE and decision.target is not None:
                await _forget_in(memory, session, principal, decision.target.id)
        except QuotaExceeded as error:
            log.info("memory not saved: %s", error.message)
            break
        except MenagerieError as error:
            log.info("memory decision %s not carried out: %s", decision.action, error.message)
    return saved


async def _update(
    memory: MemoryService, principal: Principal, draft: MemoryDraft, target: Memory
) -> Memory:
    """The target's row given the new content (`_in_place`). Where that lands on another row
    (a memory saved without a key has no identity), the target is deleted, so the fact is
    still held once."""
    stored = await memory.save(principal, _in_place(draft, target))
    if stored.id != target.id:
        await _forget(memory, principal, target.id)
    return stored


def _in_place(draft: MemoryDraft, target: Memory) -> MemoryDraft:
    """The new content under the target's own identity (its agent, session, category and
    key), so that the store's upsert finds it; its tags, metadata and expiry stay."""
    return draft.model_copy(
        update={
            "agent_id": target.agent_id,
            "session_id": target.session_id,
            "category": target.category,
            "key": target.key,
            "importance": max(draft.importance, target.importance),
            "tags": list(target.tags),
            "metadata": dict(target.metadata),
            "expires_at": target.expires_at,
        }
    )


async def _forget(memory: MemoryService, principal: Principal, memory_id: str) -> None:
    try:
        await memory.delete(principal, memory_id)
    except MenagerieError as error:  # gone already: what was wanted
        log.info("memory %s not deleted: %s", memory_id, error.message)


async def _forget_in(
    memory: MemoryService, session: AsyncSession, principal: Principal, memory_id: str
) -> None:
    try:
        await memory.delete_in(session, principal, memory_id)
    except MenagerieError as error:  # gone already: what was wanted
        log.info("memory %s not deleted: %s", memory_id, error.message)
