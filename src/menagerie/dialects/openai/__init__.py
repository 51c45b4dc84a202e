"""The OpenAI-compatible surface, under `/v1`: models and chat completions."""

from menagerie import __version__
from menagerie.dialects.openai import chat, models
from menagerie.dialects.openai.envelope import OpenAIEnvelope
from menagerie.http.dialect import DialectSpec
from menagerie.http.ratelimit import RateLimitRule, RateLimitTable

SPEC = DialectSpec(
    name="openai",
    title="OpenAI-compatible API (Menagerie)",
    api_version=__version__,
    mount_path="/v1",
    envelope=OpenAIEnvelope(),
    routers=(models.router, chat.router),
    description="Every agent and model of Menagerie, reachable from any OpenAI SDK.",
    # no seed: a generous limit per API key; SDKs retry a 429 after its Retry-After
    rate_limits=RateLimitTable(rules=(RateLimitRule("default", "1000/minute"),)),
)
