"""Metamorph (seed 003) at `/metamorph`."""

from tests.contract import seeds
from tests.contract.harness import Contract

CONTRACT = Contract(
    seed="003",
    dialect="metamorph",
    pending={
        "POST /api/sandboxes": "issue 11",
        "GET /api/sandboxes": "issue 11",
        "GET /api/sandboxes/{}": "issue 11",
        "DELETE /api/sandboxes/{}": "issue 11",
        "POST /api/sandboxes/{}/start": "issue 11",
        "POST /api/sandboxes/{}/stop": "issue 11",
        "POST /api/sandboxes/{}/execute": "issue 11",
        "POST /api/sandboxes/{}/files": "issue 11",
        "POST /api/sandboxes/{}/agent/attach": "issue 11",
        "POST /api/sandboxes/{}/agent/chat": "issue 11",
        "GET /api/sandboxes/usage": "issue 11",
    },
    codes=seeds.error_codes("003", "Common Error Codes"),
    # "MISSING_*", "INVALID_*", "*_LIMIT_REACHED", "*_NOT_CONFIGURED" in its table
    code_pattern=r"(MISSING|INVALID)_[A-Z0-9_]+|[A-Z0-9_]+_(LIMIT_REACHED|NOT_CONFIGURED)",
)
