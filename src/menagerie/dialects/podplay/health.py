"""PodPlay health: `/api/test-connection`, `/api/health`, `/api/health/{service_name}`.

Every verdict (what is healthy, degraded or unhealthy) comes from `core/ops`; this module
names the services as PodPlay does and writes durations as the seed does.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from menagerie.core.clock import human_duration, iso, utcnow
from menagerie.core.errors import NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.ops.health import AgentHealth, ComponentHealth, HealthReport, agent_health
from menagerie.core.ops.mcp_health import MarketplaceHealth, marketplace_health
from menagerie.core.ops.model_health import RouterHealth
from menagerie.dialects.podplay.deps import OptionalPrincipalDep, PlatformDep
from menagerie.dialects.podplay.schemas.health import (
    ComponentService,
    DatabaseService,
    Health,
    MamaBearDetails,
    MamaBearService,
    McpMarketplaceService,
    Metrics,
    ModelRouterService,
    Performance,
    ResourceUsage,
    ServiceHealth,
    Services,
    TestConnection,
)
from menagerie.http.health import http_status, seconds_text
from menagerie.http.openapi import errors
from menagerie.platform import Platform

router = APIRouter(prefix="/api", tags=["health"])

SERVICE_NAME = "podplay-sanctuary"
API_VERSION = "2.0.0"
AGENT = "mama-bear"
UNDISCLOSED = -1  # a count an anonymous caller is not told

# PodPlay feature names, and the route prefix whose presence means the feature is served.
FEATURES = {
    "mama-bear-chat": "/api/chat",
    "mcp-marketplace": "/api/mcp",
    "scout-agent": "/api/v1/scout_agent",
    "dev-workspaces": "/api/workspaces",
    "model-router": "/api/models",
    "health-monitoring": "/api/health",
}

# PodPlay's names for the model providers it reports.
PROVIDER_NAMES = {
    "gemini": "gemini_api",
    "openai": "openai",
    "anthropic": "anthropic",
    "together": "together_ai",
    "huggingface": "huggingface",
    "ollama": "ollama",
    "offline": "offline",
}


def _served_features(request: Request) -> list[str]:
    paths = list(request.app.openapi().get("paths", {}))
    return [
        name for name, prefix in FEATURES.items() if any(path.startswith(prefix) for path in paths)
    ]


@router.get("/test-connection", response_model=TestConnection)
async def test_connection(request: Request, platform: PlatformDep) -> TestConnection:
    return TestConnection(
        status="connected",
        message="Backend connection successful",
        service=SERVICE_NAME,
        backend_running=True,
        version=API_VERSION,
        server_version=platform.version,
        features=_served_features(request),
        timestamp=iso(utcnow()) or "",
    )


def _database(component: ComponentHealth) -> DatabaseService:
    details = component.details
    pool = (
        f"{details['pool_in_use']}/{details['pool_size']}"
        if details.get("pool_size") is not None
        else None
    )
    return DatabaseService(
        status=component.status,
        backend=str(details.get("backend")),
        connection_pool=pool,
        query_avg_time=seconds_text(details.get("query_avg_ms")),
        error=component.error,
    )


def _component(component: ComponentHealth) -> ComponentService:
    return ComponentService(
        status=component.status,
        response_time=seconds_text(component.latency_ms),
        error=component.error,
        **component.details,
    )


def _router(health: RouterHealth | None) -> ModelRouterService:
    if health is None:
        return ModelRouterService(
            status="healthy",
            state="operational",
            primary_model=None,
            models_available=0,
            providers_failing=[],
        )
    return ModelRouterService(
        status=health.status,
        state=health.state,
        primary_model=health.primary_model,
        models_available=health.models_available,
        providers_failing=health.providers_failing,
    )


def _mama_bear(agent: AgentHealth) -> MamaBearService:
    calls = agent.performance
    return MamaBearService(
        status=agent.status,
        response_time=seconds_text(calls.avg_latency_ms) if calls else None,
        memory_available=agent.memory_connected,
        model_router=agent.router.state if agent.router else "operational",
        agent_ready=agent.ready,
    )


def _marketplace(mcp: MarketplaceHealth) -> McpMarketplaceService:
    return McpMarketplaceService(
        status=mcp.status,
        scope=mcp.scope,
        servers_online=UNDISCLOSED if mcp.servers_online is None else mcp.servers_online,
        servers_total=UNDISCLOSED if mcp.servers_total is None else mcp.servers_total,
        last_sync=iso(mcp.last_sync),
        error=mcp.error,
    )


async def _services(
    platform: Platform, report: HealthReport, principal: Principal | None
) -> tuple[Services, AgentHealth]:
    agent = agent_health(report, AGENT, defined=AGENT in platform.agents.catalog.names())
    mcp = await marketplace_health(platform.mcp, principal)
    services = Services(
        mama_bear=_mama_bear(agent),
        mcp_marketplace=_marketplace(mcp),
        database=_database(report.components["database"]),
        event_bus=_component(report.components["event_bus"]),
        worker=_component(report.components["worker"]),
        filesystem=_component(report.components["filesystem"]),
        model_providers={
            PROVIDER_NAMES.get(name, name): state for name, state in report.provider_states.items()
        },
        model_router=_router(report.router),
    )
    return services, agent


@router.get("/health", response_model=Health, responses=errors(401, 503))
async def health(
    response: Response, platform: PlatformDep, principal: OptionalPrincipalDep
) -> Health:
    report = await platform.health.report()
    services, _ = await _services(platform, report, principal)
    requests = report.requests
    response.status_code = http_status(report)
    return Health(
        status=report.status,
        timestamp=iso(report.checked_at) or "",
        version=API_VERSION,
        server_version=report.version,
        services=services,
        metrics=Metrics(
            uptime=human_duration(report.uptime_s),
            uptime_seconds=report.uptime_s,
            total_requests=requests.total_requests,
            avg_response_time=seconds_text(requests.avg_response_ms) or "0ms",
            error_rate=requests.error_rate,
            active_connections=requests.active_requests,
        ),
        resource_usage=ResourceUsage(
            cpu_percent=report.resources.cpu_percent,
            memory_percent=report.resources.memory_percent,
            disk_percent=report.resources.disk_percent,
        ),
    )


def _mama_bear_details(agent: AgentHealth) -> MamaBearDetails:
    calls = agent.performance
    return MamaBearDetails(
        agent_ready=agent.ready,
        memory_service="connected" if agent.memory_connected else "disconnected",
        model_router=agent.router.state if agent.router else "operational",
        last_request=iso(calls.last_call_at) if calls else None,
        performance=Performance(
            avg_response_time=seconds_text(calls.avg_latency_ms) if calls else None,
            requests_per_minute=calls.calls_per_minute if calls else 0,
            error_rate=calls.error_rate if calls else 0.0,
        ),
        response_time=seconds_text(calls.avg_latency_ms) if calls else None,
        memory_available=agent.memory_connected,
    )


@router.get("/health/{service_name}", response_model=ServiceHealth, responses=errors(401, 404, 503))
async def service_health(
    service_name: str, response: Response, platform: PlatformDep, principal: OptionalPrincipalDep
) -> ServiceHealth:
    report = await platform.health.report()
    services, agent = await _services(platform, report, principal)
    entries = services.model_dump(mode="json")
    if service_name not in entries:
        raise NotFound(
            f"unknown service '{service_name}'",
            details={"service": service_name, "available": sorted(entries)},
        )
    if service_name == "mama_bear":
        answer = ServiceHealth(
            service=service_name, status=agent.status, details=_mama_bear_details(agent)
        )
    elif service_name == "model_providers":
        answer = ServiceHealth(
            service=service_name,
            status=report.models_status,
            details={"providers": entries[service_name]},
        )
    else:
        entry = dict(entries[service_name])
        status = str(entry.pop("status"))
        answer = ServiceHealth(service=service_name, status=status, details=entry)
    response.status_code = 503 if answer.status == "unhealthy" else 200
    return answer
