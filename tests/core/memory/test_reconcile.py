"""Mined facts reconciled with stored memories (issue 15), on SQLite and PostgreSQL: through
the real agent runtime with the offline model (the rules), and with a real model over HTTP
(a fake OpenAI-compatible upstream on loopback) deciding ADD, UPDATE, DELETE or NONE."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.identity.models import Principal
from menagerie.core.memory import reconcile
from menagerie.core.memory.models import Memory
from menagerie.core.memory.reconcile import Action, canonical_key, is_slot, parse
from menagerie.core.memory.service import draft
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.fake_llm import DEFAULT_KEY, FakeLLM, reply, server_error
from tests.utils.principals import admin

AGENT = "chat-assistant-001"
OTHER_AGENT = "mama-bear"


@pytest.fixture
async def started(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform.build(settings.model_copy(update={"offline_token_delay_ms": 0}))
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


async def say(platform: Platform, text: str, agent: str = AGENT) -> tuple[Memory, ...]:
    """One turn in a session of its own; the memories it saved or updated."""
    done = await platform.agents.complete(admin(platform), TurnRequest(agent, text))
    return done.memories


async def contents(platform: Platform, principal: Principal | None = None) -> list[str]:
    return sorted(m.content for m in await platform.memory.list(principal or admin(platform)))


# ---- the rules, through the runtime with the offline model


async def test_a_name_said_in_two_sessions_and_to_two_agents_is_one_memory(
    started: Platform,
) -> None:
    [first] = await say(started, "Hello, my name is Ada.")
    # the same again, in another session: already known, nothing saved
    assert await say(started, "my name is Ada") == ()
    # to another agent (the store's upsert identity includes the agent): still the one memory
    assert await say(started, "My name is  ada.", OTHER_AGENT) == ()
    [memory] = await started.memory.list(admin(started))
    assert memory.id == first.id
    assert (memory.category, memory.key, memory.content) == (
        "personal_info",
        "name",
        "The user's name is Ada",
    )


async def test_a_new_name_updates_the_slot_in_place(started: Platform) -> None:
    [first] = await say(started, "My name is Ada.")
    [renamed] = await say(started, "Call me Ada Lovelace", OTHER_AGENT)
    assert renamed.id == first.id  # updated where it was, whichever agent heard it
    assert renamed.agent_id == AGENT
    assert await contents(started) == ["The user's name is Ada Lovelace"]


async def test_moving_replaces_where_the_user_lives(started: Platform) -> None:
    [paris] = await say(started, "I live in Paris.")
    [lisbon] = await say(started, "Guess what: I moved to Lisbon!", OTHER_AGENT)
    assert lisbon.id == paris.id
    [memory] = await started.memory.list(admin(started))
    assert (memory.category, memory.key, memory.value) == ("personal_info", "location", "Lisbon")
    assert memory.content == "The user lives in Lisbon"
    # a negated move changes nothing
    assert await say(started, "I haven't moved to Berlin. I never relocated to Rome") == ()
    assert await contents(started) == ["The user lives in Lisbon"]


async def test_an_unrelated_fact_is_added(started: Platform) -> None:
    await say(started, "My name is Ada.")
    [added] = await say(started, "I prefer Python.")
    assert (added.category, added.key) == ("user_preferences", "python")
    assert await contents(started) == ["The user prefers Python", "The user's name is Ada"]


async def test_duplicates_saved_before_are_collapsed(started: Platform) -> None:
    me = admin(started)
    for agent in (AGENT, OTHER_AGENT):
        await started.memory.save(
            me, draft(category="personal_info", key="name", content="Name: Ada", agent_id=agent)
        )
    assert len(await started.memory.list(me)) == 2
    [kept] = await say(started, "My name is Ada")
    [memory] = await started.memory.list(me)
    assert memory.id == kept.id
    assert memory.content == "The user's name is Ada"


async def test_another_users_memories_are_never_touched(started: Platform) -> None:
    me = admin(started)
    plain = Principal(me.tenant_id, "usr_plain", frozenset())
    await started.memory.save(
        plain, draft(category="personal_info", key="name", content="The user's name is Bo")
    )
    await started.memory.save(plain, draft(category="context", content="The user's name is Ada"))
    # the admin's search spans the tenant; reconciling stays within the admin's own memories
    await say(started, "My name is Ada")
    assert await contents(started, plain) == ["The user's name is Ada", "The user's name is Bo"]
    assert await contents(started, Principal(me.tenant_id, me.user_id, frozenset())) == [
        "The user's name is Ada"
    ]


async def test_a_slot_is_not_shared_with_an_unrelated_category(started: Platform) -> None:
    me = admin(started)
    await started.memory.save(me, draft(category="project", key="name", content="Project Nova"))
    await say(started, "My name is Ada")
    assert await contents(started) == ["Project Nova", "The user's name is Ada"]


async def test_the_rules_decide_for_the_service_alone(started: Platform) -> None:
    me = admin(started)
    paris = await started.memory.save(
        me, draft(category="personal_info", key="city", content="The user lives in Paris")
    )
    decisions = await reconcile.reconcile(
        started.memory,
        me,
        [
            draft(category="personal_info", key="location", value="Oslo"),
            draft(category="skills", content="The user lives in Paris"),
            draft(category="goals", content="The user wants to learn Go"),
        ],
    )
    # `city` is not `location`: the store holds it under its own key, so the text decides
    assert [(d.action, d.target_id) for d in decisions] == [
        (Action.ADD, None),
        (Action.NONE, paris.id),
        (Action.ADD, None),
    ]


# ---- a real model decides


def model_settings(settings: Settings, fake: FakeLLM) -> Settings:
    return settings.model_copy(
        update={
            "openai_api_key": SecretStr(DEFAULT_KEY),
            "openai_base_url": fake.openai_base_url,
            "llm_primary_model": "gpt-4o-mini",
            "llm_retries": 0,
        }
    )


def extracted(*memories: dict[str, object]) -> str:
    return json.dumps({"memories": list(memories)})


async def test_a_model_decides_updates_deletes_and_adds(settings: Settings) -> None:
    async with FakeLLM(api_key=DEFAULT_KEY) as fake:
        platform = Platform.build(model_settings(settings, fake))
        await platform.start()
        try:
            me = admin(platform)
            paris = await platform.memory.save(
                me, draft(category="personal_info", key="location", content="Lives in Paris")
            )
            hunting = await platform.memory.save(
                me, draft(category="context", content="Flat hunting in Lisbon")
            )
            fake.push(
                reply("Congratulations on the move!"),
                reply(
                    extracted(
                        {"category": "personal_info", "key": "city", "value": "Lisbon"},
                        {"category": "context", "key": "hobby", "value": "surfing"},
                    )
                ),
                reply(
                    "Here is what changes:\n"
                    + json.dumps(
                        {
                            "memory": [
                                {
                                    "id": "m1",
                                    "fact": "f1",
                                    "event": "UPDATE",
                                    "text": "Lives in Lisbon",
                                },
                                {"id": "m2", "fact": "f1", "event": "DELETE"},
                                {"id": "f1", "event": "ADD"},  # decided already: ignored
                                {"id": "m7", "event": "DELETE"},  # invented: ignored
                                {"id": "f2", "event": "ADD", "text": "Surfs"},
                                {"id": "f9", "event": "ADD", "text": "Invented"},
                                {"id": "m1", "event": "EXPLODE"},
                            ]
                        }
                    )
                ),
            )
            done = await platform.agents.complete(
                me, TurnRequest(AGENT, "I just moved to Lisbon to surf, no more flat hunting")
            )
            asked = fake.requests[-1].body["messages"]
            assert asked[0]["content"].startswith("You keep a user's memory up to date")
            shown = json.loads(asked[1]["content"])
            # the candidates: the slot's memory (`city` is `location`) and the similar ones
            assert shown["existing"][:2] == [
                {"id": "m1", "text": "Lives in Paris"},
                {"id": "m2", "text": "Flat hunting in Lisbon"},
            ]
            assert shown["facts"] == [
                {"id": "f1", "text": "location: Lisbon"},
                {"id": "f2", "text": "hobby: surfing"},
            ]
            updated, added = done.memories
            assert (updated.id, updated.content, updated.value) == (
                paris.id,
                "Lives in Lisbon",
                "Lisbon",
            )
            assert (added.key, added.content, added.agent_id) == ("hobby", "Surfs", AGENT)
            stored = {m.id: m.content for m in await platform.memory.list(me)}
            assert hunting.id not in stored
            assert sorted(stored.values()) == ["Lives in Lisbon", "Surfs"]
        finally:
            await platform.stop()


async def test_a_model_answer_is_held_to_the_rules(settings: Settings) -> None:
    async with FakeLLM(api_key=DEFAULT_KEY) as fake:
        platform = Platform.build(model_settings(settings, fake))
        await platform.start()
        try:
            me = admin(platform)
            ada = await platform.memory.save(
                me,
                draft(
                    category="personal_info",
                    key="name",
                    content="The user's name is Ada",
                    agent_id=OTHER_AGENT,
                ),
            )
            name = {"category": "personal_info", "key": "full_name", "value": "Ada"}
            # a name under another key, ADDed by the model although the slot is taken (by
            # another agent's memory): the slot is updated instead
            fake.push(
                reply("Hi Ada."),
                reply(extracted(name)),
                reply('{"memory": [{"id": "f1", "event": "ADD", "text": "Name: Ada L."}]}'),
            )
            done = await platform.agents.complete(me, TurnRequest(AGENT, "Ada L. here"))
            assert [(m.id, m.content) for m in done.memories] == [(ada.id, "Name: Ada L.")]

            # an unreadable answer: the rules, which know the text already
            fake.push(
                reply("Hi again."),
                reply(extracted({**name, "value": "Ada L."})),
                reply("I would keep it as it is."),
            )
            again = await platform.agents.complete(me, TurnRequest(AGENT, "It's Ada L."))
            assert again.memories == ()

            # a failing model call: the rules again, and the turn still answers
            fake.push(
                reply("Moved?"),
                reply(extracted({"category": "personal_info", "key": "name", "value": "Ada K"})),
            )
            fake.push(server_error())
            failed = await platform.agents.complete(me, TurnRequest(AGENT, "Call me Ada K"))
            assert failed.message.content == "Moved?"
            [memory] = await platform.memory.list(me)
            assert (memory.id, memory.content) == (ada.id, "name: Ada K")
        finally:
            await platform.stop()


async def test_a_keyless_fact_told_twice_is_one_memory(settings: Settings) -> None:
    """A model's fact without a key has no upsert identity: each save was a new row."""
    async with FakeLLM(api_key=DEFAULT_KEY) as fake:
        platform = Platform.build(model_settings(settings, fake))
        await platform.start()
        try:
            me = admin(platform)
            on_call = extracted({"category": "context", "value": "The user is on call this week"})
            fake.push(reply("Good luck."), reply(on_call))  # nothing stored: no question asked
            first = await platform.agents.complete(me, TurnRequest(AGENT, "I'm on call"))
            assert [m.key for m in first.memories] == [None]
            fake.push(
                reply("Still?"),
                reply(on_call),
                reply('{"memory": [{"id": "f1", "event": "ADD"}]}'),  # already held: NONE
            )
            again = await platform.agents.complete(me, TurnRequest(AGENT, "on call, as I said"))
            assert len(fake.requests) == 5  # the model was asked the second time only
            assert again.memories == ()
            assert await contents(platform) == ["The user is on call this week"]
        finally:
            await platform.stop()


# ---- parsing a model's answer


def _memory(memory_id: str, content: str, key: str | None = None) -> Memory:
    now = datetime.now(UTC)
    return Memory(
        id=memory_id,
        tenant_id="t",
        user_id="u",
        agent_id=None,
        session_id=None,
        category="personal_info",
        key=key,
        content=content,
        value=content,
        importance=0.5,
        tags=[],
        metadata={},
        context=None,
        expires_at=None,
        created_at=now,
        updated_at=now,
        last_accessed_at=None,
        access_count=0,
    )


FACTS = [
    draft(category="personal_info", key="location", value="Lisbon"),
    draft(category="context", content="The user surfs"),
]
EXISTING = [_memory("mem_a", "Lives in Paris", "location"), _memory("mem_b", "Surfs")]


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "no JSON here",
        '{"memory": "ADD"}',
        '{"memory": [}',
        "[1, 2]",
    ],
)
def test_an_unreadable_answer_is_refused(answer: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - json's and ours alike
        parse(answer, FACTS, EXISTING)


def test_a_readable_answer_keeps_what_it_was_shown() -> None:
    parsed = parse(
        json.dumps(
            {
                "memory": [
                    {"id": "m1", "fact": "f1", "event": "update", "text": " Lives in Lisbon "},
                    {"id": "m2", "fact": "f2", "event": "NONE"},
                    {"id": "m3", "fact": "f1", "event": "DELETE"},
                    {"id": "f3", "event": "ADD"},
                    {"id": "m1", "event": "DELETE"},
                    {"id": "m2", "event": "UPDATE"},  # no fact, no text: nothing to write
                    "junk",
                    {"event": "ADD"},
                ]
            }
        ),
        FACTS,
        EXISTING,
    )
    assert [(d.action, d.target_id, fact) for d, fact in parsed] == [
        (Action.UPDATE, "mem_a", 0),
        (Action.NONE, "mem_b", 1),
        (Action.DELETE, "mem_a", None),
    ]
    update = parsed[0][0].draft
    assert update is not None
    assert (update.content, update.value) == ("Lives in Lisbon", "Lisbon")


def test_keys_are_canonical_and_slots_known() -> None:
    assert canonical_key("Full Name") == "name"
    assert canonical_key("home_city") == "location"
    assert canonical_key("favourite-colour") == "favorite_colour"
    assert canonical_key("programming language") == "programming_language"
    assert canonical_key(None) is None
    assert all(is_slot(k) for k in ("name", "location", "employer", "role", "favorite_tea"))
    assert not any(is_slot(k) for k in ("python", "favorite_", None))
