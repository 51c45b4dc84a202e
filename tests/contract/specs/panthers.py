"""Secret Panthers (seed 002) at `/panthers`: the orchestrator, and each deployed agent's own
API under `/agents/{nft_token_id}`."""

from tests.contract import seeds
from tests.contract.harness import Contract
from tests.contract.seeds import Endpoint

AGENT_PREFIX = "/agents/{}"


def route_of(endpoint: Endpoint) -> str:
    if "Agent API" in endpoint.headings:
        return AGENT_PREFIX + endpoint.route
    return endpoint.route


CONTRACT = Contract(
    seed="002",
    dialect="panthers",
    pending={},
    codes=seeds.error_codes("002", "Error Codes"),
    route_of=route_of,
)
