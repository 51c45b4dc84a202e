"""PodPlay Sanctuary (seed 000) at `/podplay`."""

from tests.contract import seeds
from tests.contract.harness import Contract

CONTRACT = Contract(
    seed="000",
    dialect="podplay",
    pending={
        "GET /api/workspaces": "issue 11",
        "POST /api/workspaces": "issue 11",
        "POST /api/workspaces/{}/start": "issue 11",
        "POST /api/workspaces/{}/stop": "issue 11",
        "DELETE /api/workspaces/{}": "issue 11",
        "GET /api/v1/scout_agent/projects": "issue 12",
        "POST /api/v1/scout_agent/projects": "issue 12",
        "GET /api/v1/scout_agent/projects/{}/status": "issue 12",
        "POST /api/v1/scout_agent/projects/{}/deploy": "issue 12",
    },
    codes=seeds.error_codes("000", "Common Error Codes"),
)
