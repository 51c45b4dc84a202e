"""Metamorph (seed 003) at `/metamorph`."""

import re

from tests.contract import seeds
from tests.contract.harness import Contract


def _example_codes(number: str) -> frozenset[str]:
    """The `"code"` values of the seed's endpoint error examples (`INVALID_STATE`,
    `NO_VERCEL_CONNECTION` …): the seed's vocabulary beside its table (docs/contract.md)."""
    return frozenset(
        code
        for endpoint in seeds.endpoints(number)
        for example in endpoint.examples
        if example.is_error
        for code in re.findall(r'"code"\s*:\s*"([A-Z][A-Z0-9_]+)"', example.text)
    )


STATUS = "GET /api/vercel/auth/status"
CALLBACK = "GET /api/vercel/auth/callback"
NO_TEAM = "a personal Vercel account has no team"
LIST = "GET /api/sandboxes"
DETAIL = "GET /api/sandboxes/{}"
NEVER_STARTED = "a sandbox that was never started"
NO_USER = "an OAuth server whose token answer names no user leaves it unknown"

CONTRACT = Contract(
    seed="003",
    dialect="metamorph",
    pending={},
    codes=seeds.error_codes("003", "Common Error Codes") | _example_codes("003"),
    # "MISSING_*", "INVALID_*", "*_LIMIT_REACHED", "*_NOT_CONFIGURED" in its table
    code_pattern=r"(MISSING|INVALID)_[A-Z0-9_]+|[A-Z0-9_]+_(LIMIT_REACHED|NOT_CONFIGURED)",
    nullable={
        (CALLBACK, "vercelUserId"): NO_USER,
        (CALLBACK, "teamId"): NO_TEAM,
        (STATUS, "activeConnection"): "no connection is active",
        (STATUS, "activeConnection.vercelUserId"): NO_USER,
        (STATUS, "activeConnection.teamId"): NO_TEAM,
        (STATUS, "activeConnection.tokenExpiresAt"): "a token issued without an expiry",
        (LIST, "sandboxes[].startedAt"): NEVER_STARTED,
        (LIST, "sandboxes[].lastActivityAt"): NEVER_STARTED,
        (DETAIL, "startedAt"): NEVER_STARTED,
        (DETAIL, "lastActivityAt"): NEVER_STARTED,
        (DETAIL, "agent"): "no agent is attached yet",
    },
)
