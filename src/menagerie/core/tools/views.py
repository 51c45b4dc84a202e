"""What an installation looks like from outside: its status, health and metrics, and its
configuration with secrets masked; and the status event of a server."""

from __future__ import annotations

from typing import Any

from menagerie.core.clock import utcnow
from menagerie.core.tools.configuration import redact_configuration
from menagerie.core.tools.events import ServerState, ServerStatusChanged
from menagerie.core.tools.models import CatalogEntry, Installation
from menagerie.core.tools.progress import expected_install_s
from menagerie.core.tools.sandboxing import Isolation
from menagerie.core.tools.session import McpSession
from menagerie.core.tools.tables import McpInstallationRow

_LIVE = {"running": "running", "starting": "starting", "offline": "offline"}
_HEALTH = {"running": "healthy", "offline": "unhealthy", "failed": "unhealthy"}


def installation_view(
    row: McpInstallationRow,
    entry: CatalogEntry,
    configuration: dict[str, Any],
    session: McpSession | None,
    *,
    isolation: Isolation = "none",
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
        expected_install_s=expected_install_s(entry) if status == "installing" else 0.0,
        isolation=isolation,
    )


def status_event(
    tenant_id: str,
    installation_id: str,
    name: str,
    status: ServerState,
    session: McpSession | None,
) -> ServerStatusChanged:
    """A server's status as the bus carries it, with what its session measured."""
    if session is None:
        return ServerStatusChanged(tenant_id, installation_id, name, status, utcnow())
    metrics = session.metrics()
    return ServerStatusChanged(
        tenant_id=tenant_id,
        installation_id=installation_id,
        server_name=name,
        status=status,
        checked_at=session.last_check or utcnow(),
        response_ms=session.last_response_ms,
        requests_handled=metrics.requests_handled,
        error_rate=metrics.error_rate,
        error=session.error if status != "running" else None,
    )
