"""PodPlay Sanctuary (seed 000) at `/podplay`."""

import dataclasses

from tests.contract import seeds
from tests.contract.harness import Contract

NOT_YET = "nothing measured yet (no model call since start, no MCP health check yet)"

CONTRACT = Contract(
    seed="000",
    dialect="podplay",
    pending={
        "GET /api/v1/scout_agent/projects": "issue 12",
        "POST /api/v1/scout_agent/projects": "issue 12",
        "GET /api/v1/scout_agent/projects/{}/status": "issue 12",
        "POST /api/v1/scout_agent/projects/{}/deploy": "issue 12",
    },
    codes=seeds.error_codes("000", "Common Error Codes"),
    # each listed in docs/contract.md, "PodPlay"
    nullable={
        ("GET /api/chat/history", "messages[].user_message"): "the question was removed",
        ("GET /api/chat/history", "messages[].model_used"): "an answer stored without a model",
        ("GET /api/health", "services.mama_bear.response_time"): NOT_YET,
        ("GET /api/health", "services.mcp_marketplace.last_sync"): NOT_YET,
        ("GET /api/health", "services.database.connection_pool"): "a pool that does not count",
        ("GET /api/health", "services.database.query_avg_time"): "the database does not answer",
        ("GET /api/health/{}", "details.last_request"): NOT_YET,
        ("GET /api/health/{}", "details.performance.avg_response_time"): NOT_YET,
    },
    # the caller's own metadata, stored and returned as given
    free_form=frozenset({"memories[].metadata"}),
)

# MCP: objects whose keys are the server's or the tool's (configuration schema, stored
# configuration, tool parameters, a tool's result), each listed in docs/contract.md
CONTRACT = dataclasses.replace(
    CONTRACT,
    free_form=CONTRACT.free_form
    | {
        "servers[].configuration_schema",
        "servers[].configuration",
        "tools[].parameters",
        "result",
    },
)
