"""OpenTelemetry spans: one per request, one per model call as its child with the GenAI
attributes, kept in the platform's span store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.trace import SpanKind

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.http import bearer
from tests.utils.server import client_for

TOKEN = "test-master-key-0123456789abcdef"  # conftest's master key


@pytest.fixture
def database_url(tmp_path) -> str:  # spans do not depend on the engine
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    platform = Platform.build(settings.model_copy(update={"offline_token_delay_ms": 0}))
    async with client_for(create_app(platform=platform)) as client:
        yield client, platform


async def test_a_chat_request_is_a_trace_with_its_model_call(
    served: tuple[httpx.AsyncClient, Platform],
) -> None:
    client, platform = served
    answered = await client.post(
        "/v1/chat/completions",
        headers=bearer(TOKEN),
        json={"model": "menagerie-offline", "messages": [{"role": "user", "content": "trace"}]},
    )
    assert answered.status_code == 200
    usage = answered.json()["usage"]
    spans = list(platform.tracing.store.finished)
    [request] = [s for s in spans if s.kind == SpanKind.SERVER and "/chat/completions" in s.name]
    assert request.name == "POST /chat/completions"
    attributes = dict(request.attributes or {})
    assert attributes["http.route"] == "/chat/completions"
    assert attributes["http.response.status_code"] == 200
    assert attributes["menagerie.dialect"] == "openai"
    assert attributes["menagerie.tenant_id"] == platform.settings.default_tenant
    [call] = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert call.name == "chat menagerie-offline"
    assert call.parent is not None
    assert call.parent.span_id == request.context.span_id  # the model call is the request's
    assert call.context.trace_id == request.context.trace_id
    call_attributes = dict(call.attributes or {})
    assert call_attributes["gen_ai.request.model"] == "menagerie-offline"
    assert call_attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert call_attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    figures = platform.tracing.store.figures()
    assert figures.traces >= 1
    assert figures.external_spans == 1
    assert figures.spans >= 2


async def test_each_request_is_one_trace_and_a_success_is_no_error(
    served: tuple[httpx.AsyncClient, Platform],
) -> None:
    client, platform = served
    before = platform.tracing.store.figures()
    assert (await client.get("/podplay/api/health")).status_code == 200
    after = platform.tracing.store.figures()
    assert after.traces == before.traces + 1
    assert after.trace_errors == before.trace_errors
