"""PodPlay health: `/api/test-connection`, `/api/health`, `/api/health/{service_name}`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from menagerie.core.clock import human_duration, iso, utcnow
from menagerie.core.errors import MenagerieError, NotFound
from menagerie.core.ops.health import ComponentHealth, HealthReport
from menagerie.http.deps import get_platform
from menagerie.http.health import http_status, seconds_text
from menagerie.platform import Platform

router = APIRouter(prefix="/api", tags=["health"])
PlatformDep = Annotated[Platform, Depends(get_platform)]

SERVICE_NAME = "podplay-sanctuary"
API_VERSION = "2.0.0"

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


@router.get("/test-connection")
async def test_connection(request: Request, platform: PlatformDep) -> dict[str, Any]:
    return {
        "status": "connected",
        "message": "Backend connection successful",
        "service": SERVICE_NAME,
        "backend_running": True,
        "version": API_VERSION,
        "server_version": platform.version,
        "features": _served_features(request),
        "timestamp": iso(utcnow()),
    }


def _database(component: ComponentHealth) -> dict[str, Any]:
    details = component.details
    pool = (
        f"{details['pool_in_use']}/{details['pool_size']}"
        if details.get("pool_size") is not None
        else None
    )
    return {
        "status": component.status,
        "backend": details.get("backend"),
        "connection_pool": pool,
        "query_avg_time": seconds_text(details.get("query_avg_ms")),
        **({"error": component.error} if component.error else {}),
    }


def _providers(report: HealthReport) -> dict[str, str]:
    return {
        PROVIDER_NAMES.get(name, name): "configured" if ready else "not_configured"
        for name, ready in report.providers.items()
    }


def _component(component: ComponentHealth) -> dict[str, Any]:
    return {
        "status": component.status,
        "response_time": seconds_text(component.latency_ms),
        **component.details,
        **({"error": component.error} if component.error else {}),
    }


def _not_provided(feature: str) -> dict[str, Any]:
    return {"status": "unavailable", "reason": f"{feature} is not provided by this server yet"}


async def _mcp(platform: Platform) -> dict[str, Any]:
    try:
        overview = await platform.mcp.overview()
    except Exception as error:  # the database is down: the report says so elsewhere
        reason = error.message if isinstance(error, MenagerieError) else "database unreachable"
        return {"status": "unknown", "reason": reason}
    last = overview["last_sync"]
    return {**overview, "last_sync": iso(last) if last is not None else None}


def _services(
    report: HealthReport, features: list[str], platform: Platform, mcp: dict[str, Any]
) -> dict[str, Any]:
    database = report.components["database"]
    services: dict[str, Any] = {
        "mama_bear": (
            {
                "status": "healthy" if database.healthy else "unhealthy",
                "memory_available": database.healthy,
            }
            if "mama-bear-chat" in features
            else _not_provided("mama-bear-chat")
        ),
        "mcp_marketplace": (
            mcp if "mcp-marketplace" in features else _not_provided("mcp-marketplace")
        ),
        "database": _database(database),
        "event_bus": _component(report.components["event_bus"]),
        "worker": _component(report.components["worker"]),
        "filesystem": _component(report.components["filesystem"]),
        "model_providers": _providers(report),
        "model_router": _model_router(platform),
    }
    return services


def _model_router(platform: Platform) -> dict[str, Any]:
    router = platform.llm.router
    callable_models = router.callable_models()
    open_circuits = sorted(name for name, b in router.breakers.items() if b.state == "open")
    return {
        "status": "degraded" if open_circuits else "healthy",
        "state": "operational" if len(open_circuits) < len(router.breakers) else "failing",
        "primary_model": router.chain()[0].model_id,
        "models_available": len(callable_models),
        "providers_failing": open_circuits,
    }


@router.get("/health")
async def health(request: Request, platform: PlatformDep) -> JSONResponse:
    report = await platform.health.report()
    requests = report.requests
    body = {
        "status": report.status,
        "timestamp": iso(report.checked_at),
        "version": API_VERSION,
        "server_version": report.version,
        "services": _services(report, _served_features(request), platform, await _mcp(platform)),
        "metrics": {
            "uptime": human_duration(report.uptime_s),
            "uptime_seconds": report.uptime_s,
            "total_requests": requests.total_requests,
            "avg_response_time": seconds_text(requests.avg_response_ms),
            "error_rate": requests.error_rate,
            "active_connections": requests.active_requests,
        },
        "resource_usage": {
            "cpu_percent": report.resources.cpu_percent,
            "memory_percent": report.resources.memory_percent,
            "disk_percent": report.resources.disk_percent,
        },
    }
    return JSONResponse(body, status_code=http_status(report))


@router.get("/health/{service_name}")
async def service_health(
    service_name: str, request: Request, platform: PlatformDep
) -> JSONResponse:
    report = await platform.health.report()
    services = _services(report, _served_features(request), platform, await _mcp(platform))
    if service_name not in services:
        raise NotFound(
            f"unknown service '{service_name}'",
            details={"service": service_name, "available": sorted(services)},
        )
    service = services[service_name]
    if service_name == "model_providers":
        status = "healthy" if any(v == "configured" for v in service.values()) else "unhealthy"
        details: dict[str, Any] = {"providers": service}
    else:
        status = service["status"]
        details = {key: value for key, value in service.items() if key != "status"}
    if service_name == "mama_bear" and status == "healthy":
        details["performance"] = {
            "avg_response_time": seconds_text(report.requests.avg_response_ms),
            "requests_per_minute": report.requests.requests_per_minute,
            "error_rate": report.requests.error_rate,
        }
    body = {"service": service_name, "status": status, "details": details}
    return JSONResponse(body, status_code=200 if status != "unhealthy" else 503)
