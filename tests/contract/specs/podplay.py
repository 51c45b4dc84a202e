"""PodPlay Sanctuary (seed 000) at `/podplay`."""

import dataclasses

from tests.contract import seeds
from tests.contract.harness import Contract

NOT_YET = "nothing measured yet (no model call since start, no MCP health check yet)"
NO_REPOSITORY = "no repository is created (no GitHub connection is driven)"
UNMEASURED = "no step of the template measured on this server yet, or the build failed"

CONTRACT = Contract(
    seed="000",
    dialect="podplay",
    pending={},
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
        # Scout (docs/contract.md, "Scout projects")
        ("GET /api/v1/scout_agent/projects", "projects[].repository_url"): NO_REPOSITORY,
        ("POST /api/v1/scout_agent/projects", "repository_url"): NO_REPOSITORY,
        ("GET /api/v1/scout_agent/projects", "projects[].estimated_completion"): UNMEASURED,
        ("GET /api/v1/scout_agent/projects/{}/status", "estimated_remaining"): UNMEASURED,
        (
            "GET /api/v1/scout_agent/projects/{}/status",
            "project_current_plan[].estimated_completion",
        ): UNMEASURED,
        (
            "GET /api/v1/scout_agent/projects/{}/status",
            "project_current_plan[].started_at",
        ): "a step not begun",
        (
            "GET /api/v1/scout_agent/projects/{}/status",
            "project_current_plan[].completed_at",
        ): "a step not ended",
        (
            "GET /api/v1/scout_agent/projects/{}/status",
            "project_active_step_id",
        ): "no step is running (queued, planning or ended)",
        (
            "POST /api/v1/scout_agent/projects/{}/deploy",
            "logs_url",
        ): "a local deploy has no logs page",
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
