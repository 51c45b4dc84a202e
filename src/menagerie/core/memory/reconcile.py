"""Newly mined facts reconciled with what the user's memory already holds, as mem0 does.

Each fact is decided against the user's stored memories that resemble it (a text search for
it, and the memories with its key): ADD (something new), UPDATE (an existing memory gets new
content), DELETE (an existing memory the fact contradicts) or NONE (already known).

A capable model decides when one answered the turn; the offline model, or a model whose
answer is unreadable, gets the rules:

- the same category and key: that memory is updated in place, or left alone when its text is
  the same (case and spacing aside);
- a single-valued slot (`name`, `location`, `employer`, `role`, `favorite_*`): the fact
  replaces the user's memory in that slot whichever agent or session saved it, and any
  further memory in the slot (a duplicate saved before) is deleted;
- the same text as a similar memory: NONE; otherwise ADD.

A model's answer is held to the ids it was shown: an invented id is ignored, a fact it says
nothing about is decided by the rules, and an ADD of something already held (the same key,
a taken slot, the same text) becomes an UPDATE, or NONE.

The reads are bounded: one for the memories of every fact's key, then a search (its access
not counted) for each fact a model is shown, or that the rules cannot settle by its key; the
facts searched are embedded together. `applying.py` carries the decisions out.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.errors import MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.core.llm.models import ChatMessage
from menagerie.core.llm.router import CallOptions, Router
from menagerie.core.memory.models import MAX_CONTENT_CHARS, Memory, MemoryDraft
from menagerie.core.memory.service import MemoryService

log = logging.getLogger(__name__)

OFFLINE_PROVIDER = "offline"
SIMILAR_LIMIT = 5  # similar memories searched for each fact
SAME_KEY_LIMIT = 20  # memories of a fact's key considered
MAX_EXISTING = 20  # memories shown to a model at most
SLOT_KEYS = frozenset({"name", "location", "employer", "role"})
FAVORITE = "favorite_"
# the categories a slot is shared across: a model may file a location under `context`, but a
# project's `name` saved through an API in a category of its own is not the user's name
FACT_CATEGORIES = frozenset({"personal_info", "user_preferences", "context", "skills"})
# the keys a model may give a slot under another name
_ALIASES = {
    "user_name": "name",
    "full_name": "name",
    "preferred_name": "name",
    "city": "location",
    "home_city": "location",
    "current_city": "location",
    "current_location": "location",
    "residence": "location",
    "home": "location",
    "company": "employer",
    "workplace": "employer",
    "current_employer": "employer",
    "job": "role",
    "job_title": "role",
    "occupation": "role",
    "profession": "role",
}

INSTRUCTIONS = """You keep a user's memory up to date. You get the memories already stored
("existing", each with an id) and facts just learned about the user ("facts", each with an id).
Decide for every fact, and answer with JSON only, no prose:
{"memory": [{"id": "...", "fact": "...", "event": "ADD|UPDATE|DELETE|NONE", "text": "..."}]}
- ADD: the fact is new: {"id": "<fact id>", "event": "ADD", "text": "<the fact>"}
- UPDATE: the fact changes or refines an existing memory: {"id": "<existing id>",
  "fact": "<fact id>", "event": "UPDATE", "text": "<the memory's new text>"}
- DELETE: an existing memory the fact contradicts: {"id": "<existing id>",
  "fact": "<fact id>", "event": "DELETE"}
- NONE: the fact is already known: {"id": "<existing id>", "fact": "<fact id>",
  "event": "NONE"}
Use only the ids given. Prefer UPDATE over DELETE and ADD when a fact replaces a memory."""

_JSON_OBJECT = re.compile(r"\{.*\}", re.S)


class Action(StrEnum):
    ADD = "ADD"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    NONE = "NONE"


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one fact or one stored memory."""

    action: Action
    draft: MemoryDraft | None = None  # ADD: what to save; UPDATE: the new content
    target: Memory | None = None  # UPDATE, DELETE: the stored memory; NONE: the one known

    @property
    def target_id(self) -> str | None:
        return self.target.id if self.target is not None else None


@dataclass(frozen=True, slots=True)
class _Fact:
    draft: MemoryDraft
    same_key: list[Memory]  # the memories it would update in place, newest first
    similar: list[Memory]


def canonical_key(key: str | None) -> str | None:
    """A key as a slug, with a slot's other names (`city`, `full_name` …) made the slot's."""
    if key is None:
        return None
    slug = re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")
    if not slug:
        return key
    if slug.startswith("favourite_"):
        slug = FAVORITE + slug.removeprefix("favourite_")
    return _ALIASES.get(slug, slug)[:128]


def is_slot(key: str | None) -> bool:
    """Whether a key holds one value at a time: a new one replaces the old."""
    if key is None:
        return False
    return key in SLOT_KEYS or (key.startswith(FAVORITE) and len(key) > len(FAVORITE))


async def reconcile(
    memory: MemoryService,
    principal: Principal,
    drafts: Sequence[MemoryDraft],
    *,
    router: Router | None = None,
    provider: str = OFFLINE_PROVIDER,
    model_id: str | None = None,
    session: AsyncSession | None = None,
    embedded: dict[str, np.ndarray] | None = None,
) -> list[Decision]:
    """The decisions for the facts mined from one message, against the user's memories.

    Its reads run in `session` when given (the caller's transaction; then nothing here
    writes), else in a session of their own, read alone and never committed. The facts'
    vectors it computes are left in `embedded` (by text), for the saves that follow."""
    facts = [draft for draft in _canonical(drafts) if draft.text()]
    if not facts:
        return []
    by_model = router is not None and provider != OFFLINE_PROVIDER
    embedded = embedded if embedded is not None else {}
    if session is not None:
        gathered = await _gather(memory, session, principal, facts, by_model, embedded)
    else:
        async with memory.reading() as own:
            gathered = await _gather(memory, own, principal, facts, by_model, embedded)
    existing = _existing(gathered)
    if router is not None and by_model and existing:
        try:
            return await _by_model(router, principal, gathered, existing, model_id)
        except (MenagerieError, ValueError) as error:
            log.info("memory reconciliation by %s failed, using rules: %s", model_id, error)
    return _settle(gathered, [])


def parse(
    text: str, drafts: Sequence[MemoryDraft], existing: Sequence[Memory]
) -> list[tuple[Decision, int | None]]:
    """A model's decisions from its JSON answer, each with the index of the fact it is for
    (None where it names none), having been shown facts `f1`… and memories `m1`…;
    ValueError when the answer is not the JSON asked for. Entries naming ids it was not
    shown, or events it does not know, are ignored."""
    found = _JSON_OBJECT.search(text)
    if found is None:
        raise ValueError("no JSON object in the answer")
    data: Any = json.loads(found.group(0))
    items = data.get("memory", data.get("memories")) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("no `memory` list in the answer")
    fact_ids = {f"f{i + 1}": i for i in range(len(drafts))}
    memory_ids = {f"m{i + 1}": known for i, known in enumerate(existing)}
    decisions: list[tuple[Decision, int | None]] = []
    for item in items[: 4 * (len(drafts) + len(existing))]:
        if not isinstance(item, dict):
            continue
        try:
            action = Action(str(item.get("event", "")).strip().upper())
        except ValueError:
            continue
        named = str(item.get("id", "")).strip()
        fact = fact_ids.get(named, fact_ids.get(str(item.get("fact", "")).strip()))
        target = memory_ids.get(named)
        said = item.get("text")
        said = said.strip()[:MAX_CONTENT_CHARS] if isinstance(said, str) and said.strip() else None
        if action is Action.ADD:
            if fact is None:
                continue
            draft = drafts[fact]
            if said is not None:
                draft = draft.model_copy(update={"content": said})
            decisions.append((Decision(Action.ADD, draft), fact))
        elif action is Action.UPDATE:
            if target is None or (fact is None and said is None):
                continue
            draft = drafts[fact] if fact is not None else _draft_from(target, said or "")
            if said is not None:
                draft = draft.model_copy(update={"content": said})
            decisions.append((Decision(Action.UPDATE, draft, target), fact))
        elif action is Action.DELETE:
            if target is not None:
                decisions.append((Decision(Action.DELETE, target=target), fact))
        elif fact is not None:  # NONE
            decisions.append((Decision(Action.NONE, drafts[fact], target), fact))
    return decisions


# ---- candidates


def _canonical(drafts: Sequence[MemoryDraft]) -> list[MemoryDraft]:
    """Canonical keys, one fact per category and key (the first, as the extractor keeps)."""
    out: list[MemoryDraft] = []
    seen: set[tuple[str, str]] = set()
    for draft in drafts:
        key = canonical_key(draft.key)
        if key is not None:
            if (draft.category, key) in seen:
                continue
            seen.add((draft.category, key))
        out.append(draft if key == draft.key else draft.model_copy(update={"key": key}))
    return out


async def _gather(
    memory: MemoryService,
    session: AsyncSession,
    principal: Principal,
    drafts: Sequence[MemoryDraft],
    by_model: bool,
    embedded: dict[str, np.ndarray],
) -> list[_Fact]:
    """Each fact with the user's memories of its key (one read for all the facts) and, where
    anything can come of them, the memories that resemble it (a search each).

    The rules decide a fact by its key when it has a memory of its own there (one no other
    fact of the message can update or delete first), and never look at its similar ones
    then; a model is shown both for every fact."""
    keys = [draft.key for draft in drafts if draft.key is not None]
    found = await memory.find_by_keys(session, principal, keys, limit=SAME_KEY_LIMIT * len(keys))
    same_keys = [_same_key(draft, found) for draft in drafts]
    searched = [
        by_model or not _decided_by_key(same_key, same_keys[:index] + same_keys[index + 1 :])
        for index, same_key in enumerate(same_keys)
    ]
    wanted = [draft.text() for draft, search in zip(drafts, searched, strict=True) if search]
    missing = [text for text in wanted if text not in embedded]
    if missing:
        embedded.update(await memory.embed(missing))
    facts = []
    for draft, same_key, search in zip(drafts, same_keys, searched, strict=True):
        similar: list[Memory] = []
        if search:
            text = draft.text()
            vector = embedded.get(text)  # none: the embedder failed, its words alone
            ranked = await memory.rank(
                session,
                principal,
                text,
                limit=SIMILAR_LIMIT,
                meaning=memory.embedded(vector) if vector is not None else None,
                embed=False,
            )
            hits = await memory.read(session, ranked)
            # an admin's search spans the tenant: only the user's own memories are theirs to
            # change
            similar = [hit.memory for hit in hits if hit.memory.user_id == principal.user_id]
        facts.append(_Fact(draft, same_key, similar))
    return facts


def _same_key(draft: MemoryDraft, found: Sequence[Memory]) -> list[Memory]:
    """The memories a fact would update in place, newest first (as `find_by_key` orders)."""
    if draft.key is None:
        return []
    if is_slot(draft.key):
        shared = FACT_CATEGORIES | {draft.category}
        mine = [m for m in found if m.key == draft.key and m.category in shared]
    else:
        mine = [m for m in found if m.key == draft.key and m.category == draft.category]
    return mine[:SAME_KEY_LIMIT]


def _decided_by_key(same_key: Sequence[Memory], others: Sequence[Sequence[Memory]]) -> bool:
    """Whether the rules settle a fact by its key: a memory of its key that no other fact
    can take first (the rules update or delete only memories of a fact's own key)."""
    theirs = {m.id for other in others for m in other}
    return any(m.id not in theirs for m in same_key)


def _existing(facts: Sequence[_Fact]) -> list[Memory]:
    known: dict[str, Memory] = {}
    for fact in facts:
        for stored in [*fact.same_key, *fact.similar]:
            known.setdefault(stored.id, stored)
    return list(known.values())[:MAX_EXISTING]


# ---- deciders


async def _by_model(
    router: Router,
    principal: Principal,
    facts: Sequence[_Fact],
    existing: Sequence[Memory],
    model_id: str | None,
) -> list[Decision]:
    drafts = [fact.draft for fact in facts]
    shown = {
        "existing": [{"id": f"m{i + 1}", "text": m.content} for i, m in enumerate(existing)],
        "facts": [{"id": f"f{i + 1}", "text": d.text()} for i, d in enumerate(drafts)],
    }
    completion = await router.complete(
        [ChatMessage("system", INSTRUCTIONS), ChatMessage("user", json.dumps(shown))],
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        model_id=model_id,
        options=CallOptions(temperature=0, max_tokens=600),
    )
    return _settle(facts, parse(completion.text, drafts, existing))


def _settle(
    facts: Sequence[_Fact], decided: Sequence[tuple[Decision, int | None]]
) -> list[Decision]:
    """The model's decisions held to the rules, and the rules' for the facts it left: an ADD
    of what is already held (the same key, a taken slot, the same text) updates it or is
    NONE; a fact is decided once and a memory updated or deleted once at most. A DELETE
    settles no fact: what replaces the deleted memory is still saved."""
    out: list[Decision] = []
    changed: set[str] = set()  # memories already updated or deleted

    def take(decision: Decision) -> bool:
        target = decision.target_id
        if decision.action in (Action.UPDATE, Action.DELETE) and target is not None:
            if target in changed:
                return False
            changed.add(target)
        out.append(decision)
        return True

    settled: set[int] = set()  # facts decided: the first decision taken for a fact is the one
    for decision, index in decided:
        settles = index is not None and decision.action is not Action.DELETE
        if settles and index in settled:
            continue
        if decision.action is Action.ADD and decision.draft is not None and index is not None:
            taken = [take(ruled) for ruled in _by_rules(facts[index], decision.draft, changed)]
            taken_any = any(taken)
        else:
            taken_any = take(decision)
        if settles and taken_any:
            assert index is not None
            settled.add(index)
    for index, fact in enumerate(facts):
        if index not in settled:
            for ruled in _by_rules(fact, fact.draft, changed):
                take(ruled)
    return out


def _by_rules(fact: _Fact, draft: MemoryDraft, changed: set[str]) -> list[Decision]:
    same_key = [m for m in fact.same_key if m.id not in changed]
    if same_key:
        target, *others = same_key
        first = (
            Decision(Action.NONE, draft, target)
            if _same_text(target.content, draft.text())
            else Decision(Action.UPDATE, draft, target)
        )
        extra = [Decision(Action.DELETE, target=m) for m in others] if is_slot(draft.key) else []
        return [first, *extra]
    for stored in fact.similar:
        if stored.id not in changed and _same_text(stored.content, draft.text()):
            return [Decision(Action.NONE, draft, stored)]
    return [Decision(Action.ADD, draft)]


def _draft_from(target: Memory, text: str) -> MemoryDraft:
    return MemoryDraft(
        category=target.category,
        key=target.key,
        content=text,
        value=text,
        importance=target.importance,
        context=target.context[:2000] if target.context else None,
    )


def _same_text(left: str, right: str) -> bool:
    return _normal(left) == _normal(right)


def _normal(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".!")
