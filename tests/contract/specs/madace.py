"""MADACE (seed 001) at `/madace`; clients set the base URL `/madace/api`."""

from tests.contract import seeds
from tests.contract.harness import Contract

CONTRACT = Contract(
    seed="001",
    dialect="madace",
    pending={
        "GET /api/workflows": "issue 13",
        "GET /api/workflows/{}": "issue 13",
        "GET /api/workflows/{}/state": "issue 13",
        "POST /api/workflows/{}/execute": "issue 13",
        "GET /api/state": "issue 13",
        "GET /api/config": "issue 13",
        "POST /api/config": "issue 13",
        "GET /api/sync": "issue 13",
        "POST /api/sync": "issue 13",
    },
    codes=seeds.error_codes("001", "Chat Error Codes", "Common Error Codes"),
    # the stream answers Server-Sent Events, checked by the chat tests event by event
    not_json=frozenset({"POST /api/v3/chat/stream"}),
)
