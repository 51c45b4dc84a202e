"""The OpenAI-compatible surface, under `/v1`: models and chat completions."""

from menagerie import __version__
from menagerie.dialects.openai import chat, models
from menagerie.dialects.openai.envelope import ENVELOPE
from menagerie.dialects.openai.schemas import ErrorBody
from menagerie.http.dialect import DialectSpec
from menagerie.http.ratelimit import RateLimitRule, RateLimitTable

SPEC = DialectSpec(
    name="openai",
    title="OpenAI-compatible API (Menagerie)",
    api_version=__version__,
    mount_path="/v1",
    envelope=ENVELOPE,
    routers=(models.router, chat.router),
    description="Every agent and model of Menagerie, reachable from any OpenAI SDK.",
    # no seed: a generous limit per API key; SDKs retry a 429 after its Retry-After
    rate_limits=RateLimitTable(rules=(RateLimitRule("default", "1000/minute"),)),
    error_model=ErrorBody,
    validation_status=400,  # OpenAI answers a request it cannot accept with 400
)
