"""Canary secrets planted in every secret setting and request appear in no response, header,
stream or log line, whatever route is called."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.http import closed_port
from tests.utils.server import client_for

MASTER = "canary-master-key-7f3a9c1e5b"
CANARIES = {
    "openai_api_key": "sk-canary-openai-1d8e2f",
    "anthropic_api_key": "sk-ant-canary-4b6c0a",
    "gemini_api_key": "AIza-canary-gemini-9e7d",
    "jwt_secret": "canary-jwt-secret-3c5e7a9b1d-0123456789abcdef",
    "vault_jwt_secret": "canary-vault-secret-2468ac",
    "vercel_client_secret": "canary-vercel-secret-13579b",
}
REQUEST_CANARY = "sk-canary-in-request-body-0a1b2c"
SPECS = ["/podplay", "/madace", "/panthers", "/metamorph", "/gary", "/v1"]


@pytest.fixture
def encryption_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def canary_settings(tmp_path: Path, encryption_key: str) -> Settings:
    dead = f"http://127.0.0.1:{closed_port()}"
    return Settings(
        data_dir=tmp_path / "data",
        master_key=MASTER,
        encryption_key=encryption_key,
        offline_token_delay_ms=0,
        rate_limits_enabled=False,
        llm_retries=0,
        llm_timeout_s=2.0,
        openai_base_url=f"{dead}/v1",
        anthropic_base_url=dead,
        gemini_base_url=dead,
        ollama_base_url=dead,
        llm_primary_model="menagerie-offline",
        _env_file=None,
        **{name: SecretStr(value) for name, value in CANARIES.items()},
    )


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


async def test_no_canary_in_any_response_or_log(
    canary_settings: Settings, encryption_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = [*CANARIES.values(), MASTER, encryption_key, REQUEST_CANARY]
    seen: list[str] = []
    caplog.set_level(logging.DEBUG)
    platform = Platform.build(canary_settings)
    async with client_for(create_app(platform=platform)) as client:
        client.headers["Authorization"] = f"Bearer {MASTER}"

        async def record(response: httpx.Response) -> None:
            seen.append(f"{response.request.method} {response.request.url}")
            seen.append(str(dict(response.headers)))
            seen.append(response.text)

        async def read_endless(url: str) -> None:
            # a stream that never ends by itself: its headers and what it sends in a second
            async with client.stream("GET", url) as response:
                seen.append(f"GET {url}")
                seen.append(str(dict(response.headers)))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        async for text in response.aiter_text():
                            seen.append(text)

        for prefix in SPECS:
            spec = (await client.get(f"{prefix}/openapi.json")).json()
            for path, operations in spec.get("paths", {}).items():
                if "get" not in operations:
                    continue
                content = operations["get"].get("responses", {}).get("200", {}).get("content", {})
                if "text/event-stream" in content:
                    await read_endless(f"{prefix}{concrete(path)}")
                else:
                    await record(await client.get(f"{prefix}{concrete(path)}"))
        # a key sent in a request, to an upstream that cannot be reached
        for provider in ("openai", "claude", "gemini", "local"):
            await record(
                await client.post(
                    "/madace/api/llm/test",
                    json={"provider": provider, "apiKey": REQUEST_CANARY, "model": "m"},
                )
            )
        # a model call through the router, streamed and not, to every provider in turn
        for model in ("menagerie-offline", "gpt-4o-mini", "claude-haiku-4-5", "gemini-2.0-flash"):
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
            await record(await client.post("/v1/chat/completions", json=body))
            await record(await client.post("/v1/chat/completions", json={**body, "stream": True}))
        await record(await client.post("/podplay/api/models/route", json={"message": "hello"}))
    assert len(seen) > 60  # every dialect answered something
    logs = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in secrets:
        for text in seen:
            assert secret not in text, f"secret leaked in a response: {text[:300]}"
        assert secret not in logs, "secret leaked in the logs"
