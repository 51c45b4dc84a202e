"""Crazy Gary (seed 004) at `/gary`."""

from tests.contract import seeds
from tests.contract.harness import Contract

CONTRACT = Contract(
    seed="004",
    dialect="gary",
    pending={
        "POST /api/tasks": "issue 12",
        "POST /api/tasks/{}/start": "issue 12",
        "POST /api/tasks/{}/stop": "issue 12",
        "GET /api/stats": "issue 12",
        "POST /api/heavy/orchestrate": "issue 12",
        "GET /api/heavy/progress": "issue 12",
        "GET /api/heavy/tools": "issue 12",
        "POST /api/heavy/tools/execute": "issue 12",
        "GET /api/monitoring/health/detailed": "issue 14",
        "GET /api/monitoring/metrics": "issue 14",
        "GET /api/monitoring/logs/requests": "issue 14",
        "GET /api/monitoring/logs/errors": "issue 14",
        "GET /api/monitoring/alerts": "issue 14",
        "GET /api/monitoring/health/dashboard": "issue 14",
        "GET /api/monitoring/incidents": "issue 14",
        "POST /api/monitoring/incidents": "issue 14",
        "GET /api/observability/metrics": "issue 14",
        "GET /api/observability/traces/active": "issue 14",
        "GET /api/observability/events/stream": "issue 14",
    },
    codes=seeds.error_codes("004", "Common Error Codes"),
)
