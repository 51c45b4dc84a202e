"""A model provider failing under a real server: 429s, 5xx answers and a stream cut mid-answer.

The upstream is the scripted fake LLM (`tests/utils/fake_llm`), real HTTP on loopback, behind
the OpenAI and Anthropic adapters. Through PodPlay's chat, MADACE's stream and `/v1`:

- with a fallback configured, a 429 or a 5xx on the primary (after its retry) is answered by
  the fallback model, and the turn is stored as any other;
- without one, the error comes back as each API documents it (docs/contract.md): PodPlay 429
  `RATE_LIMITED` / 502 `SERVICE_UNAVAILABLE`, OpenAI 429 `rate_limit_exceeded` / 502
  `server_error`, MADACE's stream an `LLM_UNAVAILABLE` / `INSUFFICIENT_QUOTA` error event;
- a stream cut after its first words is not retried elsewhere (README: fallback only before
  the first token): the words already sent stay sent and an error event ends the stream.

In every case the user's message is kept in the session's history.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from menagerie.app import create_app
from menagerie.core.chat.models import HistoryQuery
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.fake_llm import DEFAULT_KEY, FakeLLM, cut, rate_limited, reply, server_error
from tests.utils.principals import admin
from tests.utils.server import client_for

AUTH = {"Authorization": "Bearer test-master-key-0123456789abcdef"}
USER = "fault_user"
PRIMARY = "gpt-4o-mini"
FALLBACK = "claude-haiku-4-5"
# llm_retries=1: the primary is asked twice before the router gives up on it
TWICE = 2

Served = tuple[httpx.AsyncClient, Platform, FakeLLM]


async def _served(tmp_path: Path, *, fallback: bool) -> AsyncIterator[Served]:
    update: dict[str, Any] = {
        "openai_api_key": SecretStr(DEFAULT_KEY),
        "llm_primary_model": PRIMARY,
        "llm_retries": 1,
        "llm_retry_backoff_s": 0.01,
        "llm_breaker_failures": 100,  # the breaker has tests of its own
        "llm_timeout_s": 30.0,
    }
    async with FakeLLM(api_key=DEFAULT_KEY) as fake:
        update["openai_base_url"] = fake.openai_base_url
        if fallback:
            update |= {
                "anthropic_api_key": SecretStr(DEFAULT_KEY),
                "anthropic_base_url": fake.anthropic_base_url,
                "llm_fallback_models": [FALLBACK],
            }
        settings = Settings(
            data_dir=tmp_path / "data",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}",
            master_key="test-master-key-0123456789abcdef",
            dev_mode=False,
            rate_limits_enabled=False,
            _env_file=None,
            **update,
        )
        platform = Platform.build(settings)
        async with client_for(create_app(platform=platform)) as client:
            client.headers.update(AUTH)
            client.timeout = httpx.Timeout(60)
            yield client, platform, fake


@pytest.fixture
async def with_fallback(tmp_path: Path) -> AsyncIterator[Served]:
    async for served in _served(tmp_path, fallback=True):
        yield served


@pytest.fixture
async def alone(tmp_path: Path) -> AsyncIterator[Served]:
    async for served in _served(tmp_path, fallback=False):
        yield served


async def podplay_chat(client: httpx.AsyncClient, message: str, session_id: str) -> httpx.Response:
    return await client.post(
        "/podplay/api/chat/mama-bear",
        json={"user_id": USER, "message": message, "session_id": session_id},
    )


async def sse_events(
    client: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> list[dict[str, Any] | str]:
    """Every `data:` payload of a streamed answer, as a client reads them."""
    events: list[dict[str, Any] | str] = []
    async with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ")
                events.append(data if data == "[DONE]" else json.loads(data))
    return events


async def kept(platform: Platform, session_id: str) -> list[tuple[str, str]]:
    """The session's messages as (role, content), read from the store."""
    me = admin(platform).acting_for(USER)
    page = await platform.chat.history(me, session_id, HistoryQuery(limit=50))
    return [(m.role, m.content) for m in page.messages]


async def test_a_fallback_answers_a_429_and_a_5xx(with_fallback: Served) -> None:
    client, platform, fake = with_fallback

    fake.push(*[rate_limited(0.01)] * TWICE, reply("answered by the fallback"))
    answer = await podplay_chat(client, "first question", "fault-429")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["model_used"], body["response"]) == (FALLBACK, "answered by the fallback")
    assert len(fake.requests_to("openai")) >= TWICE  # the primary was tried (and retried)
    assert await kept(platform, "fault-429") == [
        ("user", "first question"),
        ("agent", "answered by the fallback"),
    ]

    fake.push(*[server_error(502)] * TWICE, reply("the fallback again"))
    answer = await podplay_chat(client, "second question", "fault-5xx")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["model_used"], answer.json()["response"]) == (
        FALLBACK,
        "the fallback again",
    )
    assert await kept(platform, "fault-5xx") == [
        ("user", "second question"),
        ("agent", "the fallback again"),
    ]

    # /v1 names the model that answered
    fake.push(*[server_error(503)] * TWICE, reply("openai-compatible fallback"))
    completion = await client.post(
        "/v1/chat/completions",
        json={"model": PRIMARY, "messages": [{"role": "user", "content": "third"}]},
    )
    assert completion.status_code == 200, completion.text
    assert completion.json()["model"] == FALLBACK
    assert completion.json()["choices"][0]["message"]["content"] == "openai-compatible fallback"


async def test_without_a_fallback_the_error_is_answered_and_the_question_kept(
    alone: Served,
) -> None:
    client, platform, fake = alone

    fake.push(*[rate_limited(0.01)] * TWICE)
    limited = await podplay_chat(client, "asked while rate limited", "alone-429")
    assert limited.status_code == 429, limited.text
    body = limited.json()
    assert (body["success"], body["error_code"]) == (False, "RATE_LIMITED")
    assert body["details"]["reason"] == "PROVIDER_RATE_LIMITED"
    assert body["details"]["provider"] == "openai"
    assert body["message_id"] is None
    assert await kept(platform, "alone-429") == [("user", "asked while rate limited")]

    fake.push(*[server_error(500)] * TWICE)
    failed = await podplay_chat(client, "asked while the provider is down", "alone-5xx")
    assert failed.status_code == 502, failed.text
    body = failed.json()
    assert (body["success"], body["error_code"]) == (False, "SERVICE_UNAVAILABLE")
    assert body["details"]["reason"] == "PROVIDER_UNAVAILABLE"
    assert body["details"]["upstream_status"] == 500
    assert await kept(platform, "alone-5xx") == [("user", "asked while the provider is down")]

    ask = {"model": PRIMARY, "messages": [{"role": "user", "content": "hello"}]}
    fake.push(*[rate_limited(0.01)] * TWICE)
    openai_limited = await client.post("/v1/chat/completions", json=ask)
    assert openai_limited.status_code == 429, openai_limited.text
    assert openai_limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert openai_limited.json()["error"]["type"] == "requests"
    fake.push(*[server_error(503)] * TWICE)
    openai_failed = await client.post("/v1/chat/completions", json=ask)
    assert openai_failed.status_code == 502, openai_failed.text
    assert openai_failed.json()["error"]["type"] == "server_error"

    # MADACE's stream has begun (200) when the model is asked: the failure is an error event
    session = await client.post(
        "/madace/api/v3/chat/sessions",
        json={"userId": "default-user", "agentId": "chat-assistant-001"},
    )
    assert session.status_code == 201, session.text
    session_id = session.json()["session"]["id"]
    for behaviour, code in ((server_error(502), "LLM_UNAVAILABLE"), (rate_limited(0.01), None)):
        fake.push(*[behaviour] * TWICE)
        events = await sse_events(
            client,
            "/madace/api/v3/chat/stream",
            {"sessionId": session_id, "agentId": "chat-assistant-001", "content": f"q {code}"},
        )
        [error] = [e for e in events if isinstance(e, dict) and e.get("type") == "error"]
        assert error["code"] == (code or "INSUFFICIENT_QUOTA"), events
        assert error["retryable"] is True
        assert "[DONE]" not in events
    messages = await client.get(f"/madace/api/v3/chat/sessions/{session_id}/messages")
    assert messages.status_code == 200, messages.text
    assert [(m["role"], m["content"]) for m in messages.json()["messages"]] == [
        ("user", "q LLM_UNAVAILABLE"),
        ("user", "q None"),
    ]


async def test_a_stream_cut_mid_answer_ends_in_an_error_and_keeps_the_question(
    with_fallback: Served,
) -> None:
    client, platform, fake = with_fallback

    fake.push(cut(after=4))
    events = await sse_events(
        client,
        "/podplay/api/chat/mama-bear",
        {"user_id": USER, "message": "tell me a long story", "session_id": "cut", "stream": True},
    )
    chunks = [e for e in events if isinstance(e, dict) and e.get("type") == "chunk"]
    assert chunks, events  # the first words did arrive
    error = events[-1]
    assert isinstance(error, dict), events
    assert (error["type"], error["success"], error["error_code"]) == (
        "error",
        False,
        "SERVICE_UNAVAILABLE",
    )
    assert error["details"]["reason"] == "PROVIDER_UNAVAILABLE"
    assert error["retryable"] is True
    assert "[DONE]" not in events
    # words were already out: no second answer from the fallback is spliced on
    assert fake.requests_to("anthropic") == []
    assert await kept(platform, "cut") == [("user", "tell me a long story")]

    # the same cut on a whole (non-streamed) answer is a 502
    fake.push(cut(after=4))
    whole = await podplay_chat(client, "and another", "cut-whole")
    assert whole.status_code == 502, whole.text
    assert whole.json()["error_code"] == "SERVICE_UNAVAILABLE"
    assert await kept(platform, "cut-whole") == [("user", "and another")]

    # /v1: the chunks so far, then OpenAI's error shape, and no [DONE]
    fake.push(cut(after=4))
    events = await sse_events(
        client,
        "/v1/chat/completions",
        {"model": PRIMARY, "stream": True, "messages": [{"role": "user", "content": "go"}]},
    )
    assert any(isinstance(e, dict) and "choices" in e for e in events), events
    failure = events[-1]
    assert isinstance(failure, dict), events
    assert failure["error"]["type"] == "server_error", events
    assert "[DONE]" not in events
    assert fake.requests_to("anthropic") == []
