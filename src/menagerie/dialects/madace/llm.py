"""MADACE `POST /api/llm/test`: one short real call to a provider with the caller's key.

The answers carry `success` and `provider` beside the usual MADACE error fields (the seed's
"Error Response"), so this router renders its failures itself, through the MADACE envelope.
A provider that cannot be reached answers 500, the seed's "Connection failed" for this
route, with the code LLM_UNAVAILABLE.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from menagerie.core import errors as E
from menagerie.core.llm.connection import TestedProvider
from menagerie.core.llm.errors import ProviderUnavailable
from menagerie.dialects.madace.deps import PlatformDep, PrincipalDep
from menagerie.dialects.madace.envelope import MadaceEnvelope
from menagerie.dialects.madace.schemas.llm import LlmTestRequest, LlmTestResult, TokenUsage
from menagerie.http.errors import from_validation_error
from menagerie.http.middleware import request_id_of
from menagerie.http.openapi import errors

# MADACE's provider names for the core's
PROVIDERS: dict[str, TestedProvider] = {
    "gemini": "gemini",
    "claude": "anthropic",
    "openai": "openai",
    "local": "local",
}
ENVELOPE = MadaceEnvelope()
CONNECTION_FAILED_STATUS = 500  # seed 001: "500 Internal Server Error - Connection failed"


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


@router.post("/test", response_model=LlmTestResult, responses=errors(401, 429, 500))
async def test_connection(
    body: LlmTestRequest, platform: PlatformDep, principal: PrincipalDep
) -> LlmTestResult:
    # an open endpoint would hand the server's own local model to anyone: callers sign in
    del principal
    result = await platform.llm.check_connection(
        PROVIDERS[body.provider], body.model, api_key=body.api_key, prompt=body.test_prompt
    )
    return LlmTestResult(
        provider=body.provider,
        model=result.model,  # the model that answered: `local` may be the built-in one
        message=result.text,
        usage=TokenUsage(
            promptTokens=result.usage.input_tokens,
            completionTokens=result.usage.output_tokens,
            totalTokens=result.usage.total_tokens,
        ),
    )


async def _failure(request: Request, error: E.MenagerieError) -> JSONResponse:
    code = ENVELOPE.code_for(error)
    status = (
        CONNECTION_FAILED_STATUS
        if isinstance(error, ProviderUnavailable)
        else ENVELOPE.status_for(error, code)
    )
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
