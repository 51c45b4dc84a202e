"""Metamorph (seed 003), served under `/metamorph`."""

from menagerie.dialects.metamorph import conversations, sandboxes, vercel
from menagerie.dialects.metamorph.deps import optional_vault, require_vault
from menagerie.dialects.metamorph.envelope import MetamorphEnvelope
from menagerie.dialects.metamorph.schemas import MetamorphError
from menagerie.http.dialect import DialectSpec
from menagerie.http.ratelimit import RateLimitRule, RateLimitTable

API_VERSION = "1.0.0"

SPEC = DialectSpec(
    name="metamorph",
    title="Metamorph API (Menagerie)",
    api_version=API_VERSION,
    mount_path="/metamorph",
    envelope=MetamorphEnvelope(),
    routers=(vercel.router, sandboxes.router, conversations.router),
    description="Metamorph's vault-scoped sandboxes, sessions and memories, served by Menagerie.",
    # seed 003 documents its 429 (`*_LIMIT_REACHED`) but no request limits: a generous one
    rate_limits=RateLimitTable(rules=(RateLimitRule("default", "1000/minute"),)),
    error_model=MetamorphError,
    validation_status=400,  # seed 003: MISSING_* / INVALID_* are 400s
    auth_dependencies=(require_vault, optional_vault),
)
