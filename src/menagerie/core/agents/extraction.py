"""Facts and preferences worth remembering from what a user said.

A capable model is asked for them as structured output; the offline model, or a model that
answers with something unreadable, falls back to the rule-based extractor, so a turn never
fails because extraction did.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from menagerie.core.errors import MenagerieError
from menagerie.core.llm.models import ChatMessage
from menagerie.core.llm.router import CallOptions, Router
from menagerie.core.memory.extract import extract_memories
from menagerie.core.memory.models import MemoryDraft

log = logging.getLogger(__name__)

OFFLINE_PROVIDER = "offline"
MAX_EXTRACTED = 5

INSTRUCTIONS = """You extract durable facts about the user from their message, for a memory.
Answer with JSON only, no prose: {"memories": [{"category": "...", "key": "...", "value": ...,
"importance": 0.0-1.0}]}. Categories: user_preferences, personal_info, context, skills, goals.
Only what the user states about themself that will still be true in later conversations;
nothing about the assistant, no questions, no guesses. {"memories": []} when there is none."""

_JSON_OBJECT = re.compile(r"\{.*\}", re.S)


async def extract(
    router: Router,
    message: str,
    *,
    provider: str,
    model_id: str,
    tenant_id: str,
    user_id: str | None,
) -> list[MemoryDraft]:
    if provider == OFFLINE_PROVIDER:
        return extract_memories(message)
    try:
        completion = await router.complete(
            [ChatMessage("system", INSTRUCTIONS), ChatMessage("user", message)],
            tenant_id=tenant_id,
            user_id=user_id,
            model_id=model_id,
            options=CallOptions(temperature=0, max_tokens=400),
        )
        drafts = parse(completion.text, message)
    except (MenagerieError, ValueError) as error:
        log.info("memory extraction by %s failed, using rules: %s", model_id, error)
        return extract_memories(message)
    return drafts


def parse(text: str, source: str) -> list[MemoryDraft]:
    """Drafts from a model's JSON answer; ValueError when it is not the JSON asked for."""
    found = _JSON_OBJECT.search(text)
    if found is None:
        raise ValueError("no JSON object in the answer")
    data: Any = json.loads(found.group(0))
    items = data.get("memories") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("no `memories` list in the answer")
    drafts = []
    for item in items[:MAX_EXTRACTED]:
        if not isinstance(item, dict) or item.get("value") in (None, ""):
            continue
        try:
            drafts.append(
                MemoryDraft(
                    category=str(item.get("category") or "context")[:64],
                    key=str(item["key"])[:128] if item.get("key") else None,
                    value=item["value"],
                    importance=min(max(float(item.get("importance", 0.6)), 0.0), 1.0),
                    context=source[:500],
                )
            )
        except (MenagerieError, ValueError, TypeError) as error:
            log.info("skipping an extracted memory the model got wrong: %s", error)
    return drafts
