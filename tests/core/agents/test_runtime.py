"""The agent loop with the offline model, on SQLite and PostgreSQL: storage before the call,
memories recalled and extracted, tools executed and fed back, context windows, failures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from menagerie.core.agents.events import (
    MemoryUpdate,
    TextChunk,
    ToolCallStarted,
    ToolResult,
    TurnDone,
    TurnStarted,
)
from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.chat.models import HistoryQuery
from menagerie.core.errors import Invalid, NotFound, TooLarge
from menagerie.core.llm.errors import ProviderError
from menagerie.core.llm.providers.offline import PREFIX
from menagerie.core.memory.service import draft
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.fake_llm import DEFAULT_KEY, FakeLLM, reply
from tests.utils.principals import admin

AGENT = "chat-assistant-001"


# offline models with small context windows, through the catalogue file as an operator would
SMALL_MODELS = {
    "tiny-offline": {
        "provider": "offline",
        "model": "menagerie-offline",
        "contextWindow": 300,
        "maxTokens": 50,
    },
    "small-offline": {
        "provider": "offline",
        "model": "menagerie-offline",
        "contextWindow": 2000,
        "maxTokens": 200,
    },
}


@pytest.fixture
async def started(settings: Settings) -> AsyncIterator[Platform]:
    data_dir = settings.resolved_data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "models_catalog.json").write_text(json.dumps(SMALL_MODELS))
    platform = Platform.build(settings.model_copy(update={"offline_token_delay_ms": 0}))
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


async def collect(platform: Platform, request: TurnRequest) -> list[object]:
    return [event async for event in platform.agents.run(admin(platform), request)]


async def test_a_turn_streams_stores_and_remembers(started: Platform) -> None:
    events = await collect(started, TurnRequest(AGENT, "Hello! My name is Ada. I prefer Python."))
    start = events[0]
    assert isinstance(start, TurnStarted)
    assert start.user_message is not None
    chunks = [e.text for e in events if isinstance(e, TextChunk)]
    assert len(chunks) > 1  # streamed, not one block
    done = events[-1]
    assert isinstance(done, TurnDone)
    assert done.message.content == "".join(chunks).strip()
    assert done.message.content.startswith(PREFIX)
    assert done.model == "menagerie-offline"
    assert done.input_tokens > 0
    assert done.output_tokens > 0
    assert done.message.reply_to_id == start.user_message.id
    remembered = [e.memory for e in events if isinstance(e, MemoryUpdate)]
    assert {(m.category, m.key) for m in remembered} == {
        ("personal_info", "name"),
        ("user_preferences", "python"),
    }
    assert all(m.agent_id == AGENT for m in remembered)

    history = await started.chat.history(admin(started), start.session_id)
    assert [m.role for m in history.messages] == ["user", "agent"]
    assert history.messages[1].model == "menagerie-offline"
    assert history.messages[1].output_tokens == done.output_tokens


async def test_the_next_turn_recalls_memories_and_history(started: Platform) -> None:
    me = admin(started)
    await started.memory.save(me, draft(category="context", content="The user works with Rust"))
    first = await started.agents.complete(me, TurnRequest(AGENT, "remember the plan: ship it"))
    session_id = first.message.session_id
    second = await started.agents.complete(
        me, TurnRequest(AGENT, "What about Rust?", session_id=session_id)
    )
    assert second.message.session_id == session_id
    assert second.input_tokens > first.input_tokens  # the history and the memory were sent
    messages = (await started.chat.history(me, session_id)).messages
    assert [m.role for m in messages] == ["user", "agent", "user", "agent"]


async def test_tools_are_called_and_fed_back(started: Platform) -> None:
    events = await collect(started, TurnRequest(AGENT, "Check the clock\n/tool current_time {}"))
    call = next(e for e in events if isinstance(e, ToolCallStarted))
    result = next(e for e in events if isinstance(e, ToolResult))
    assert (call.name, call.arguments) == ("current_time", {})
    assert not result.is_error
    assert result.output.endswith("Z")
    done = events[-1]
    assert isinstance(done, TurnDone)
    assert done.steps == 2
    assert result.output in done.message.content  # the model saw the tool's answer
    history = await started.chat.history(admin(started), done.message.session_id)
    assert [m.role for m in history.messages] == ["user", "tool", "agent"]
    assert history.messages[1].metadata["tool"] == "current_time"


async def test_bad_tool_arguments_are_an_error_the_model_reads(started: Platform) -> None:
    events = await collect(started, TurnRequest(AGENT, '/tool recall {"limit": 3}'))
    result = next(e for e in events if isinstance(e, ToolResult))
    assert result.is_error
    assert "query" in result.output
    assert isinstance(events[-1], TurnDone)


async def test_the_remember_tool_saves_a_memory(started: Platform) -> None:
    await collect(
        started, TurnRequest(AGENT, '/tool remember {"content": "Likes green tea", "key": "tea"}')
    )
    [memory] = await started.memory.list(admin(started))
    assert (memory.content, memory.key, memory.agent_id) == ("Likes green tea", "tea", AGENT)


async def test_answering_a_stored_message(started: Platform) -> None:
    me = admin(started)
    session = await started.chat.create_session(me, AGENT)
    question = await started.chat.add_message(me, session.id, "user", "Hi there")
    done = await started.agents.complete(
        me, TurnRequest(AGENT, None, session_id=session.id, create_session=False)
    )
    assert done.message.reply_to_id == question.id
    empty = await started.chat.create_session(me, AGENT)
    with pytest.raises(Invalid) as nothing:
        await started.agents.complete(me, TurnRequest(AGENT, None, session_id=empty.id))
    assert nothing.value.reason == "NO_USER_MESSAGE"


async def test_unknown_agent_and_session(started: Platform) -> None:
    with pytest.raises(NotFound) as agent:
        await started.agents.complete(admin(started), TurnRequest("nobody", "hi"))
    assert agent.value.reason == "AGENT_NOT_FOUND"
    with pytest.raises(NotFound) as session:
        await started.agents.complete(
            admin(started), TurnRequest(AGENT, "hi", session_id="sess_x", create_session=False)
        )
    assert session.value.reason == "SESSION_NOT_FOUND"


async def test_too_long_for_the_context_window_is_refused_but_kept(started: Platform) -> None:
    me = admin(started)
    with pytest.raises(TooLarge) as exceeded:
        await started.agents.complete(me, TurnRequest(AGENT, "word " * 2000, model="tiny-offline"))
    assert exceeded.value.reason == "CONTEXT_WINDOW_EXCEEDED"
    # the user's message was stored before the model was asked
    [session], _ = await started.chat.list_sessions(me)
    page = await started.chat.history(me, session.id, HistoryQuery())
    assert [m.role for m in page.messages] == ["user"]


async def test_a_long_session_is_trimmed_to_the_window(started: Platform) -> None:
    me = admin(started)
    session = await started.chat.create_session(me, AGENT)
    for i in range(150):
        await started.chat.add_message(me, session.id, "user", f"old message {i} " * 5)
    done = await started.agents.complete(
        me, TurnRequest(AGENT, "newest", session_id=session.id, model="small-offline")
    )
    assert done.input_tokens < 2000


async def test_a_failing_model_loses_nothing(settings: Settings) -> None:
    # an OpenAI endpoint where nothing listens: the call fails after the message is stored
    broken = settings.model_copy(
        update={
            "openai_api_key": SecretStr("sk-test"),
            "openai_base_url": "http://127.0.0.1:9/v1",
            "llm_retries": 0,
        }
    )
    platform = Platform.build(broken)
    await platform.start()
    try:
        me = admin(platform)
        with pytest.raises(ProviderError) as failed:
            await platform.agents.complete(me, TurnRequest(AGENT, "hello", model="gpt-4o-mini"))
        assert failed.value.retryable
        [session], _ = await platform.chat.list_sessions(me)
        page = await platform.chat.history(me, session.id)
        assert [m.content for m in page.messages] == ["hello"]
    finally:
        await platform.stop()


async def test_a_real_model_extracts_memories_as_json(settings: Settings) -> None:
    async with FakeLLM(api_key=DEFAULT_KEY) as fake:
        platform = Platform.build(
            settings.model_copy(
                update={
                    "openai_api_key": SecretStr(DEFAULT_KEY),
                    "openai_base_url": fake.openai_base_url,
                    "llm_primary_model": "gpt-4o-mini",
                    "llm_retries": 0,
                }
            )
        )
        await platform.start()
        try:
            fake.push(
                reply("Nice to meet you, Lin."),
                reply(
                    '{"memories": [{"category": "personal_info", "key": "name", '
                    '"value": "Lin", "importance": 0.9}, {"category": "skills", '
                    '"value": ""}]}'
                ),
            )
            done = await platform.agents.complete(
                admin(platform), TurnRequest(AGENT, "Lin here, I mostly write Go.")
            )
            assert done.model == "gpt-4o-mini"
            assert done.message.content == "Nice to meet you, Lin."
            assert [(m.category, m.key, m.value) for m in done.memories] == [
                ("personal_info", "name", "Lin")
            ]
            extraction = fake.requests[-1].body
            assert extraction["messages"][0]["content"].startswith("You extract durable facts")
            assert extraction["messages"][1]["content"] == "Lin here, I mostly write Go."

            # an answer that is not the JSON asked for falls back to the rules
            fake.push(reply("Sure."), reply("I think the user likes Go?"))
            fallback = await platform.agents.complete(
                admin(platform), TurnRequest(AGENT, "My name is Lin.")
            )
            assert [(m.category, m.key) for m in fallback.memories] == [("personal_info", "name")]
        finally:
            await platform.stop()
