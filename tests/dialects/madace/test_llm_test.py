"""MADACE `POST /api/llm/test` against the fake upstream: each provider name, a wrong key,
an empty account, a rate limit, an unreachable provider and bad input, with the seed's
response and error shapes, and the caller's key never echoed in a response or a log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.envelopes import assert_error
from tests.utils.fake_llm import FakeLLM, invalid_key, quota_exhausted, rate_limited, reply
from tests.utils.http import bearer, closed_port
from tests.utils.server import client_for

KEY = "sk-madace-test-key-0123456789abcdef"
AUTH = bearer("test-master-key-0123456789abcdef")  # conftest's master key
URL = "/madace/api/llm/test"
MODELS = {
    "gemini": ("gemini-2.0-flash-exp", "gemini"),
    "claude": ("claude-haiku-4-5", "anthropic"),
    "openai": ("gpt-4o-mini", "openai"),
}


@pytest.fixture
def database_url(tmp_path) -> str:  # the endpoint keeps nothing: one engine is enough
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    async with FakeLLM(api_key=KEY) as server:
        yield server


@pytest.fixture
async def ollama() -> AsyncIterator[FakeLLM]:
    async with FakeLLM(api_key=None) as server:  # a local server takes no key
        yield server


@pytest.fixture
def settings(settings: Settings, fake: FakeLLM, ollama: FakeLLM) -> Settings:
    return settings.model_copy(
        update={
            "gemini_base_url": fake.gemini_base_url,
            "anthropic_base_url": fake.anthropic_base_url,
            "openai_base_url": fake.openai_base_url,
            "ollama_base_url": ollama.url,
        }
    )


async def post(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post(URL, json=body, headers=AUTH)


@pytest.mark.parametrize("provider", ["gemini", "claude", "openai"])
async def test_a_provider_answers_in_the_seed_shape(
    client: httpx.AsyncClient, fake: FakeLLM, provider: str
) -> None:
    model, kind = MODELS[provider]
    fake.push(reply("Hello! How can I help you today?", usage=(3, 8)))
    response = await post(
        client, {"provider": provider, "apiKey": KEY, "model": model, "testPrompt": "Say hello!"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "provider": provider,
        "model": model,
        "message": "Hello! How can I help you today?",
        "usage": {"promptTokens": 3, "completionTokens": 8, "totalTokens": 11},
    }
    sent = fake.last_request
    assert sent.provider == kind
    assert model in sent.path or sent.body.get("model") == model
    assert "Say hello!" in str(sent.body)


async def test_local_needs_no_key_and_reaches_ollama(
    client: httpx.AsyncClient, ollama: FakeLLM
) -> None:
    response = await post(client, {"provider": "local", "model": "llama3.1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["success"], body["provider"], body["model"]) == (True, "local", "llama3.1")
    assert body["message"] == "Echo: Say hello!"  # the default prompt
    usage = body["usage"]
    assert usage["totalTokens"] == usage["promptTokens"] + usage["completionTokens"] > 0
    assert ollama.last_request.path == "/v1/chat/completions"


async def test_local_without_ollama_is_the_built_in_model_and_says_so(
    settings: Settings,
) -> None:
    # the fault: `local` went to 127.0.0.1:11434 whatever the settings, and answered 500
    # when no Ollama ran there; with none configured, Menagerie's own local model answers
    settings = settings.model_copy(update={"ollama_base_url": None})
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        response = await post(client, {"provider": "local", "model": "llama3.1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "provider", "model", "message", "usage"}
    assert (body["success"], body["provider"]) == (True, "local")
    assert body["model"] == "menagerie-offline"  # which model answered, not the one asked
    assert body["message"].startswith("[offline model]")
    assert "Say hello!" in body["message"]
    usage = body["usage"]
    assert usage["totalTokens"] == usage["promptTokens"] + usage["completionTokens"] > 0


@pytest.mark.parametrize("provider", ["gemini", "claude", "openai"])
async def test_a_wrong_key_is_invalid_api_key(
    client: httpx.AsyncClient,
    provider: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sk-wrong-key-for-madace-9876543210fedcba"
    response = await post(
        client, {"provider": provider, "apiKey": wrong, "model": MODELS[provider][0]}
    )
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False
    assert body["provider"] == provider
    assert body["error"] == "INVALID_API_KEY"
    assert "API key" in body["message"]
    assert isinstance(body["timestamp"], int)
    assert wrong not in response.text
    assert wrong[-6:] not in response.text  # not even the tail a provider quotes back
    assert wrong not in caplog.text


@pytest.mark.parametrize("provider", ["gemini", "claude", "openai"])
async def test_an_empty_account_is_insufficient_quota(
    client: httpx.AsyncClient, fake: FakeLLM, provider: str
) -> None:
    fake.push(quota_exhausted())
    response = await post(
        client, {"provider": provider, "apiKey": KEY, "model": MODELS[provider][0]}
    )
    assert response.status_code == 429
    body = response.json()
    assert (body["success"], body["provider"], body["error"]) == (
        False,
        provider,
        "INSUFFICIENT_QUOTA",
    )
    assert KEY not in response.text


async def test_an_upstream_rate_limit_is_429(client: httpx.AsyncClient, fake: FakeLLM) -> None:
    fake.push(rate_limited(12))
    response = await post(client, {"provider": "openai", "apiKey": KEY, "model": "gpt-4o-mini"})
    # the seed's one 429 code; the details say it was the provider's rate limit
    body = assert_error(response, 429, "INSUFFICIENT_QUOTA", dialect="madace")
    assert body["details"].startswith("PROVIDER_RATE_LIMITED")
    assert response.headers["retry-after"] == "12"


async def test_a_refused_key_from_the_upstream_itself(
    client: httpx.AsyncClient, fake: FakeLLM
) -> None:
    fake.push(invalid_key())  # a key the upstream knows but has revoked
    response = await post(client, {"provider": "claude", "apiKey": KEY, "model": "claude-x"})
    assert (response.status_code, response.json()["error"]) == (401, "INVALID_API_KEY")


@pytest.mark.parametrize("provider", ["local", "gemini", "claude", "openai"])
async def test_an_unreachable_provider_is_llm_unavailable_500(
    settings: Settings, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dead = f"http://127.0.0.1:{closed_port()}"
    settings = settings.model_copy(
        update={
            "ollama_base_url": dead,
            "gemini_base_url": dead,
            "anthropic_base_url": dead,
            "openai_base_url": f"{dead}/v1",
        }
    )
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        response = await post(client, {"provider": provider, "apiKey": KEY, "model": "m"})
    assert response.status_code == 500
    body = response.json()
    assert (body["success"], body["provider"], body["error"]) == (
        False,
        provider,
        "LLM_UNAVAILABLE",
    )
    assert body["details"].startswith("PROVIDER_UNAVAILABLE")
    assert "connect" in body["message"]
    assert KEY not in response.text
    assert KEY not in caplog.text


async def test_an_unknown_provider_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await post(client, {"provider": "mistral", "apiKey": KEY, "model": "m"})
    assert response.status_code == 400
    body = response.json()
    assert (body["success"], body["provider"], body["error"]) == (
        False,
        "mistral",
        "VALIDATION_ERROR",
    )
    assert "provider" in body["message"]
    assert KEY not in response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "gemini", "model": "gemini-2.0-flash-exp"}, "apiKey"),
        ({"provider": "openai", "apiKey": "  ", "model": "gpt-4o-mini"}, "apiKey"),
        ({"provider": "openai", "apiKey": KEY}, "model"),
        ({"apiKey": KEY, "model": "gpt-4o-mini"}, "provider"),
    ],
)
async def test_a_missing_field_is_named(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await post(client, body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["success"] is False
    assert answer["error"] == "VALIDATION_ERROR"
    assert field in answer["message"]
    assert isinstance(answer["timestamp"], int)
    assert KEY not in response.text


async def test_a_body_that_is_not_json_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        URL, content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["success"] is False


async def test_callers_must_sign_in(client: httpx.AsyncClient, fake: FakeLLM) -> None:
    response = await client.post(URL, json={"provider": "openai", "apiKey": KEY, "model": "m"})
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False
    # the seed's credential code; the details tell our sign-in from the provider's key
    assert body["error"] == "INVALID_API_KEY"
    assert body["details"].startswith("CREDENTIALS_MISSING")
    assert fake.requests == []
