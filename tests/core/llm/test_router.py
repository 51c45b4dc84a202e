"""The router against a real fake upstream on loopback: retries, fallback along the chain,
the circuit breaker, streams cut midway, and cost accounting in the ledger."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from menagerie.core.errors import Unavailable
from menagerie.core.llm.errors import ProviderAuthFailed
from menagerie.core.llm.models import ChatMessage, Finish, StreamError, TextDelta, Usage
from menagerie.core.llm.router import Routed
from menagerie.core.llm.service import LlmService
from menagerie.core.llm.usage import UsageSummary
from menagerie.platform import Platform
from menagerie.settings import EndpointSettings, ProviderSettings, Settings
from tests.utils.fake_llm import (
    DEFAULT_KEY,
    FakeLLM,
    cut,
    invalid_key,
    rate_limited,
    reply,
    server_error,
    slow,
)
from tests.utils.model_server import command, free_port

HELLO = (ChatMessage("user", "hello router"),)
TENANT = "default"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    async with FakeLLM(api_key=DEFAULT_KEY) as server:
        yield server


def llm_settings(settings: Settings, fake: FakeLLM, **changes: object) -> Settings:
    update: dict[str, object] = {
        "openai_api_key": SecretStr(DEFAULT_KEY),
        "openai_base_url": fake.openai_base_url,
        "anthropic_api_key": SecretStr(DEFAULT_KEY),
        "anthropic_base_url": fake.anthropic_base_url,
        "llm_primary_model": "gpt-4o-mini",
        "llm_fallback_models": ["claude-haiku-4-5"],
        "llm_retries": 1,
        "llm_retry_backoff_s": 0.01,
        "llm_breaker_failures": 2,
        "llm_breaker_cooldown_s": 0.5,
        "llm_timeout_s": 5.0,
    }
    update.update(changes)
    return settings.model_copy(update=update)


@pytest.fixture
async def started(settings: Settings, fake: FakeLLM) -> AsyncIterator[Platform]:
    platform = Platform.build(llm_settings(settings, fake))
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


async def summary(llm: LlmService) -> dict[tuple[str, str], tuple[int, int]]:
    result: UsageSummary = await llm.ledger.summary(TENANT)
    return {(m.model, m.provider): (m.requests, m.errors) for m in result.models}


async def test_answers_from_the_primary_and_accounts_its_cost(
    started: Platform, fake: FakeLLM
) -> None:
    fake.push(reply("Hi from the primary", usage=(1000, 500)))
    done = await started.llm.router.complete(HELLO, tenant_id=TENANT, user_id="u1")
    assert done.model_id == "gpt-4o-mini"
    assert done.text == "Hi from the primary"
    assert (done.usage.input_tokens, done.usage.output_tokens) == (1000, 500)
    expected = 1000 * 0.00015 / 1000 + 500 * 0.0006 / 1000
    assert done.cost == pytest.approx(expected)
    assert fake.last_request.body["model"] == "gpt-4o-mini"
    result = await started.llm.ledger.summary(TENANT)
    [row] = result.models
    assert row.total_cost == pytest.approx(expected)
    assert row.total_tokens == 1500


async def test_retries_a_5xx_then_succeeds_on_the_same_provider(
    started: Platform, fake: FakeLLM
) -> None:
    fake.push(server_error(502), reply("second try"))
    done = await started.llm.router.complete(HELLO, tenant_id=TENANT)
    assert (done.model_id, done.text, done.fallback_from) == ("gpt-4o-mini", "second try", ())
    assert len(fake.requests_to("openai")) == 2
    assert fake.requests_to("anthropic") == []


async def test_falls_back_on_rate_limits_after_retries(started: Platform, fake: FakeLLM) -> None:
    fake.push(rate_limited(0.01), rate_limited(0.01), reply("from the fallback"))
    done = await started.llm.router.complete(HELLO, tenant_id=TENANT)
    assert done.model_id == "claude-haiku-4-5"
    assert done.text == "from the fallback"
    assert done.fallback_from == ("gpt-4o-mini",)
    assert len(fake.requests_to("openai")) == 2  # the first try and one retry
    assert await summary(started.llm) == {
        ("gpt-4o-mini", "openai"): (1, 1),
        ("claude-haiku-4-5", "anthropic"): (1, 0),
    }


async def test_falls_back_on_timeouts(settings: Settings, fake: FakeLLM) -> None:
    platform = Platform.build(llm_settings(settings, fake, llm_timeout_s=0.3, llm_retries=0))
    await platform.start()
    try:
        fake.push(slow(3.0, "too late"), reply("in time"))
        done = await platform.llm.router.complete(HELLO, tenant_id=TENANT)
        assert (done.model_id, done.text) == ("claude-haiku-4-5", "in time")
    finally:
        await platform.stop()


async def test_falls_back_on_a_refused_connection(settings: Settings, fake: FakeLLM) -> None:
    dead = ProviderSettings(
        name="dead-vllm",
        base_url=f"http://127.0.0.1:{closed_port()}/v1",
        models=["dead-model"],
    )
    platform = Platform.build(
        llm_settings(settings, fake, llm_providers=[dead], llm_primary_model="dead-model")
    )
    await platform.start()
    try:
        done = await platform.llm.router.complete(HELLO, tenant_id=TENANT)
        assert done.model_id == "claude-haiku-4-5"
        assert done.fallback_from == ("dead-model",)
    finally:
        await platform.stop()


async def test_a_refused_key_is_not_hidden_by_fallback(started: Platform, fake: FakeLLM) -> None:
    fake.push(invalid_key())
    with pytest.raises(ProviderAuthFailed) as caught:
        await started.llm.router.complete(HELLO, tenant_id=TENANT)
    assert caught.value.reason == "INVALID_API_KEY"
    assert DEFAULT_KEY not in caught.value.message
    assert fake.requests_to("anthropic") == []


async def test_circuit_opens_skips_the_provider_then_recovers(
    settings: Settings, fake: FakeLLM
) -> None:
    platform = Platform.build(llm_settings(settings, fake, llm_retries=0))
    await platform.start()
    router = platform.llm.router
    try:
        for _ in range(2):
            fake.push(server_error(500), reply("fallback"))
            assert (await router.complete(HELLO, tenant_id=TENANT)).model_id == "claude-haiku-4-5"
        assert router.breakers["openai"].state == "open"
        fake.push(reply("fallback while open"))
        done = await router.complete(HELLO, tenant_id=TENANT)
        assert done.model_id == "claude-haiku-4-5"
        assert len(fake.requests_to("openai")) == 2  # skipped: no third call went out
        await asyncio.sleep(0.6)  # the cool-down passes: one trial call is let through
        fake.push(reply("primary is back"))
        done = await router.complete(HELLO, tenant_id=TENANT)
        assert (done.model_id, done.text) == ("gpt-4o-mini", "primary is back")
        assert router.breakers["openai"].state == "closed"
    finally:
        await platform.stop()


async def test_a_stream_cut_midway_ends_with_an_error_event(
    started: Platform, fake: FakeLLM
) -> None:
    fake.push(cut(after=4))
    events = [e async for e in started.llm.router.stream(HELLO, tenant_id=TENANT)]
    assert isinstance(events[0], Routed)
    assert events[0].model_id == "gpt-4o-mini"
    assert any(isinstance(e, TextDelta) for e in events)
    error = next(e for e in events if isinstance(e, StreamError))
    assert error.code == "PROVIDER_UNAVAILABLE"
    assert events[-1] == Finish("error")
    assert fake.requests_to("anthropic") == []  # text was already out: no second answer
    [row] = (await started.llm.ledger.summary(TENANT)).models
    assert (row.requests, row.errors) == (1, 1)
    assert row.output_tokens > 0  # estimated from what was streamed


async def test_streams_usage_and_finish(started: Platform, fake: FakeLLM) -> None:
    fake.push(reply("one two three four", usage=(12, 4)))
    events = [e async for e in started.llm.router.stream(HELLO, tenant_id=TENANT)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "one two three four"
    assert Usage(12, 4) in events
    assert events[-1] == Finish("stop")


async def test_every_provider_failing_is_model_unavailable(
    started: Platform, fake: FakeLLM
) -> None:
    fake.push(*[server_error(503)] * 4)
    with pytest.raises(Unavailable) as caught:
        await started.llm.router.complete(HELLO, tenant_id=TENANT)
    assert caught.value.reason == "MODEL_UNAVAILABLE"
    assert len(caught.value.details["attempts"]) == 2


async def test_selection_prefers_capability_then_preferences(
    started: Platform, tmp_path: Path
) -> None:
    router = started.llm.router
    vision = router.select(["vision"], cost_preference="low", speed_preference="fast")
    assert "images" in vision.model.capabilities
    assert vision.missing_capabilities == frozenset()
    assert vision.model.provider in ("openai", "anthropic")
    premium = router.select(["reasoning"], cost_preference="premium", speed_preference="thorough")
    assert premium.model.performance_tier == "premium"
    cheap = router.select([], cost_preference="low", speed_preference="fast")
    assert cheap.model.cost_per_1k_tokens <= premium.model.cost_per_1k_tokens
    assert all(alt.estimated_cost >= 0 for alt in cheap.alternatives)
    assert {a.model.model_id for a in cheap.alternatives}.isdisjoint({cheap.model.model_id})


async def test_a_chat_routed_to_a_sleeping_endpoint_wakes_it(settings: Settings) -> None:
    endpoint = EndpointSettings(
        name="20b", model="tiny-model", command=command(), port=free_port(), wake_timeout_s=15
    )
    platform = Platform.build(
        settings.model_copy(update={"llm_endpoints": [endpoint], "llm_primary_model": "tiny-model"})
    )
    await platform.start()
    try:
        assert platform.endpoints.status("20b").status == "sleeping"
        done = await platform.llm.router.complete(HELLO, tenant_id=TENANT)
        assert done.model_id == "tiny-model"
        assert done.text
        status = platform.endpoints.status("20b")
        assert status.status == "running"
        assert status.last_activity is not None
    finally:
        await platform.stop()


async def test_an_endpoint_that_never_wakes_is_endpoint_unavailable(settings: Settings) -> None:
    endpoint = EndpointSettings(
        name="20b",
        model="tiny-model",
        command=command("--unhealthy"),
        port=free_port(),
        wake_timeout_s=1.0,
    )
    platform = Platform.build(
        settings.model_copy(update={"llm_endpoints": [endpoint], "llm_primary_model": "tiny-model"})
    )
    await platform.start()
    try:
        with pytest.raises(Unavailable) as caught:
            await platform.llm.router.complete(HELLO, tenant_id=TENANT)
        assert caught.value.reason == "ENDPOINT_UNAVAILABLE"
    finally:
        await platform.stop()
