"""Rule-based memory extraction: plain statements a user makes about themself.

Used with the offline model, and whenever a model's own extraction fails. It prefers
missing a fact to inventing one: questions and negated or hypothetical sentences are skipped.

Categories: `personal_info` (name, where they live or moved to), `user_preferences` (likes,
dislikes, favourites), `context` (where and with what the user works), `skills` (what they
are).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from menagerie.core.memory.models import MemoryDraft

_SENTENCES = re.compile(r"[^.!?\n]+[.!?]?")
_SKIP = re.compile(r"^\s*(if|when|would|could|should|do|does|did|can|is|are|am)\b", re.I)
_VALUE = r"(?P<value>[^,;.!?]{2,80})"


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str]
    category: str
    key: str | None  # None: a slug of the value; "{thing}": from the pattern's `thing` group
    importance: float
    template: str


def _rule(regex: str, category: str, key: str | None, importance: float, template: str) -> _Rule:
    return _Rule(re.compile(regex, re.I), category, key, importance, template)


RULES: tuple[_Rule, ...] = (
    _rule(r"\bmy name is " + _VALUE, "personal_info", "name", 0.9, "The user's name is {value}"),
    _rule(
        r"\b(?:call me|i go by) " + _VALUE,
        "personal_info",
        "name",
        0.9,
        "The user's name is {value}",
    ),
    _rule(
        r"\bmy fav(?:ou?rite)? (?P<thing>[a-z][a-z ]{1,30}?) is " + _VALUE,
        "user_preferences",
        "favorite_{thing}",
        0.7,
        "The user's favourite {thing} is {value}",
    ),
    _rule(
        r"\bi (?:really )?prefer " + _VALUE,
        "user_preferences",
        None,
        0.7,
        "The user prefers {value}",
    ),
    _rule(
        r"\bi (?:really )?(?:like|love|enjoy) " + _VALUE,
        "user_preferences",
        None,
        0.6,
        "The user likes {value}",
    ),
    _rule(
        r"\bi (?:really )?(?:hate|dislike|can't stand|cannot stand) " + _VALUE,
        "user_preferences",
        None,
        0.6,
        "The user dislikes {value}",
    ),
    _rule(
        r"\bi work (?:with|on|in) " + _VALUE, "context", None, 0.7, "The user works with {value}"
    ),
    _rule(
        r"\bi work (?:at|for) " + _VALUE, "context", "employer", 0.7, "The user works at {value}"
    ),
    _rule(r"\bi (?:mostly |usually )?use " + _VALUE, "context", None, 0.6, "The user uses {value}"),
    # before "live in": a move is the newer news ("I live in Paris, well, I moved to Lisbon")
    _rule(
        r"\bi(?:'ve| have)? (?:just |recently )?(?:moved|relocated) to " + _VALUE,
        "personal_info",
        "location",
        0.7,
        "The user lives in {value}",
    ),
    _rule(r"\bi live in " + _VALUE, "personal_info", "location", 0.7, "The user lives in {value}"),
    _rule(
        r"\bi(?:'m| am) an? (?P<value>[a-z][\w+# -]{1,40}?(?:developer|engineer|designer|"
        r"scientist|student|manager|analyst|architect|writer|teacher|researcher))\b",
        "skills",
        "role",
        0.8,
        "The user is a {value}",
    ),
)


def extract_memories(text: str) -> list[MemoryDraft]:
    drafts: list[MemoryDraft] = []
    seen: set[tuple[str, str]] = set()
    for match in _SENTENCES.finditer(text or ""):
        sentence = match.group(0).strip()
        if not sentence or sentence.endswith("?") or _SKIP.match(sentence):
            continue
        for rule in RULES:
            found = rule.pattern.search(sentence)
            if found is None or _negated(sentence, found.start()):
                continue
            value = _clean(found.group("value"))
            if not value:
                continue
            thing = _clean(found.groupdict().get("thing") or "")
            key = _slug(rule.key.format(thing=thing) if rule.key else value)
            if (rule.category, key) in seen:
                continue
            seen.add((rule.category, key))
            drafts.append(
                MemoryDraft(
                    category=rule.category,
                    key=key,
                    value=value,
                    content=rule.template.format(value=value, thing=thing),
                    importance=rule.importance,
                    context=sentence[:500],
                )
            )
    return drafts


def _negated(sentence: str, start: int) -> bool:
    before = sentence[:start].lower()
    return bool(re.search(r"\b(not|never|don't|do not|no longer)\s*$", before))


def _clean(value: str) -> str:
    value = re.split(r"\b(?:and i|but|because)\b", value, maxsplit=1, flags=re.I)[0]
    return value.strip(" \t'\"").rstrip()


def _slug(value: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")
    return slug[:64] or "fact"
