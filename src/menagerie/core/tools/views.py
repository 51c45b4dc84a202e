"""What an installation looks like from outside: its status, health and metrics, its
configuration with secrets masked, and the status events the bus carries."""

from __future__ import annotations

from typing import Any

from menagerie.core.clock import iso, utcnow
from menagerie.core.redact import MASK
from menagerie.core.tools.configuration import redact_configuration
from menagerie.core.tools.models import CatalogEntry, Installation
from menagerie.core.tools.session import McpSession
from menagerie.core.tools.tables import McpInstallationRow

_LIVE = {"running": "running", "starting": "starting", "offline": "offline"}
_HEALTH = {"running": "healthy", "offline": "unhealthy", "failed": "unhealthy"}


def installation_view(
    row: McpInstallationRow,
    entry: CatalogEntry,
    configuration: dict[str, Any],
    session: McpSession | None,
) -> Installation:
    status = row.status
    if session is not None and row.status not in ("installing", "failed"):
        status = _LIVE.get(session.state, "stopped")  # the live session knows best
    return Installation(
        id=row.id,
        tenant_id=row.tenant_id,
        server_name=row.server_name,
        status=status,  # type: ignore[arg-type]
        health_status=_HEALTH.get(status, "unknown"),  # type: ignore[arg-type]
        configuration=redact_configuration(entry.configuration_schema, configuration),
        auto_start=row.auto_start,
        installed_at=row.installed_at,
        last_health_check=(session.last_check if session else None) or row.last_health_check,
        error=(session.error if session else None) or row.error,
        metrics=session.metrics() if session else None,
        tool_count=len(session.tools) if session else 0,
    )


def status_payload(name: str, status: str, session: McpSession | None) -> dict[str, Any]:
    """One server of PodPlay's `mcp_server_status` event."""
    checked = session.last_check if session is not None and session.last_check else utcnow()
    server: dict[str, Any] = {
        "name": name,
        "status": "online" if status == "running" else status,
        "last_check": iso(checked),
    }
    if session is not None:
        if session.last_response_ms is not None:
            server["response_time"] = session.last_response_ms
        server["health_score"] = round(1 - session.metrics().error_rate, 4)
        if session.error and status != "running":
            server["error_message"] = session.error
    return server


def mask_secrets(value: Any, secrets: list[str]) -> Any:
    """`value` with every occurrence of each secret masked, however deeply it is nested."""
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, list):
        return [mask_secrets(item, secrets) for item in value]
    if isinstance(value, dict):
        return {key: mask_secrets(item, secrets) for key, item in value.items()}
    return value
