"""MADACE `POST /api/llm/test`: one short real call to a provider with the caller's key.

MADACE names providers `gemini`, `claude`, `openai` and `local` (Ollama); they map onto the
core's provider kinds, reached at the base URLs the settings give. Its answers carry
`success` and `provider` beside the usual MADACE error fields, so this router renders its
failures itself, through the MADACE envelope's codes and statuses.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from menagerie.core import errors as E
from menagerie.core.identity.models import Principal
from menagerie.core.llm.errors import ProviderUnavailable
from menagerie.core.llm.probe import DEFAULT_PROMPT, probe_provider
from menagerie.core.llm.providers.base import ProviderConfig
from menagerie.core.llm.providers.factory import openai_base
from menagerie.dialects.madace.envelope import MadaceEnvelope
from menagerie.http.deps import get_platform, require_principal
from menagerie.http.errors import from_validation_error
from menagerie.http.middleware import request_id_of
from menagerie.platform import Platform
from menagerie.settings import Settings

ProviderName = Literal["gemini", "claude", "openai", "local"]
OLLAMA_DEFAULT_URL = "http://127.0.0.1:11434"
# MADACE's names for the core's provider kinds
KINDS: dict[str, str] = {
    "gemini": "gemini",
    "claude": "anthropic",
    "openai": "openai",
    "local": "openai",
}
ENVELOPE = MadaceEnvelope()
# seed 001 documents this endpoint's unreachable provider as "500 - Connection failed",
# where chat calls answer LLM_UNAVAILABLE 503
CONNECTION_FAILED = "CONNECTION_FAILED"


class LlmTestRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    provider: ProviderName = Field(description="gemini, claude, openai or local (Ollama)")
    api_key: str | None = Field(
        None, alias="apiKey", description="the provider's API key; not needed for local"
    )
    model: str = Field(min_length=1, max_length=200, examples=["gemini-2.0-flash-exp"])
    test_prompt: str | None = Field(
        None, alias="testPrompt", max_length=4000, examples=[DEFAULT_PROMPT]
    )


class _TestRoute(APIRoute):
    """Failures of this endpoint come out as `{success: false, provider, error, message…}`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return await _failure(request, from_validation_error(exc))
            except E.MenagerieError as exc:
                return await _failure(request, exc)

        return handle


router = APIRouter(prefix="/api/llm", tags=["llm"], route_class=_TestRoute)


@router.post("/test")
async def test_connection(
    body: LlmTestRequest,
    platform: Annotated[Platform, Depends(get_platform)],
    principal: Annotated[Principal, Depends(require_principal)],
) -> dict[str, Any]:
    # an open endpoint would hand the server's own local model to anyone: callers sign in
    del principal
    config = provider_config(body.provider, body.api_key, platform.settings)
    result = await probe_provider(config, body.model, body.test_prompt or DEFAULT_PROMPT)
    return {
        "success": True,
        "provider": body.provider,
        "model": body.model,
        "message": result.text,
        "usage": {
            "promptTokens": result.usage.input_tokens,
            "completionTokens": result.usage.output_tokens,
            "totalTokens": result.usage.total_tokens,
        },
    }


def provider_config(name: str, api_key: str | None, settings: Settings) -> ProviderConfig:
    """The core provider a MADACE provider name stands for, with the caller's key."""
    key = api_key.strip() if api_key else ""
    if name == "local":
        base_url = openai_base(settings.ollama_base_url or OLLAMA_DEFAULT_URL)
        return ProviderConfig(
            "local", "openai", SecretStr(key) if key else None, base_url, settings.llm_timeout_s
        )
    if not key:
        raise E.Invalid(
            f"field 'apiKey' is required for provider '{name}'",
            field="apiKey",
            received=None,
            expected="the provider's API key",
            missing=True,
        )
    base_urls = {
        "gemini": settings.gemini_base_url,
        "claude": settings.anthropic_base_url,
        "openai": settings.openai_base_url,
    }
    return ProviderConfig(
        name, KINDS[name], SecretStr(key), base_urls[name], settings.llm_timeout_s
    )


async def _failure(request: Request, error: E.MenagerieError) -> JSONResponse:
    code = CONNECTION_FAILED if isinstance(error, ProviderUnavailable) else ENVELOPE.code_for(error)
    status = ENVELOPE.status_for(error, code)
    body = ENVELOPE.body(error, code=code, status=status, request_id=request_id_of(request.scope))
    head: dict[str, Any] = {"success": False}
    provider = await _provider_of(request)
    if provider is not None:
        head["provider"] = provider
    return JSONResponse({**head, **body}, status_code=status, headers=ENVELOPE.headers(error))


async def _provider_of(request: Request) -> str | None:
    """The provider the caller named, for the error body; never anything else it sent."""
    try:
        payload = await request.json()
    except Exception:  # no body, or not JSON: the error itself says so
        return None
    value = payload.get("provider") if isinstance(payload, dict) else None
    return value[:50] if isinstance(value, str) else None
