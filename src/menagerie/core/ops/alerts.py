"""Alerts: conditions of the server checked on a schedule, raised while they hold.

Each rule reads a measurement (CPU, memory and disk from psutil, the share of server errors
among recent requests and their p99 latency, each model provider's state, the MCP servers
meant to run that are offline, the worker's heartbeat age and queue) against a threshold from
settings. Checks run on a schedule, and also at once when a bus event names a change a rule
reads (an MCP server's status), so a server that crashes and restarts within the interval is
still seen offline. An
alert is raised the first time its condition is seen and stays active until a check finds it
gone; raising publishes `ALERT_TOPIC` on the bus, which the socket.io surfaces deliver as
`system_alert` to the operator's clients. Alerts describe the server, so they are the
operator's (admins of the default tenant); they live in this process's memory and are
found again by the next check after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from menagerie.core.clock import iso, utcnow
from menagerie.core.errors import NotFound
from menagerie.core.events import EventBus
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.ops.health import HealthService
from menagerie.core.ops.stats import RequestStats
from menagerie.core.tools.events import STATUS_TOPIC as MCP_STATUS_TOPIC
from menagerie.core.tools.service import ToolService

log = logging.getLogger(__name__)
ALERT_TOPIC = "ops.alert"
MIN_REQUESTS = 20  # fewer requests than this say nothing about an error rate
LATENCY_WINDOW_S = 300.0  # p99 of the requests of the last five minutes


@dataclass(frozen=True, slots=True)
class Thresholds:
    cpu_percent: float = 90.0
    memory_percent: float = 90.0
    disk_percent: float = 90.0
    error_rate: float = 0.05
    p99_latency_ms: float = 5000.0
    worker_heartbeat_s: float = 15.0
    worker_queued: int = 100


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    key: str  # the condition: "cpu", "provider:openai" …; one active alert per key
    type: str  # performance | resource | errors | provider | mcp | worker
    severity: str  # low | medium | high | critical
    message: str
    component: str
    timestamp: datetime
    acknowledged: bool = False

    def to_payload(self, tenant_id: str) -> dict[str, Any]:
        return {
            "tenant_id": tenant_id,
            "id": self.id,
            "type": self.type,
            "severity": self.severity,
            "message": self.message,
            "component": self.component,
            "timestamp": iso(self.timestamp),
            "acknowledged": self.acknowledged,
        }


# (key, type, severity, message, component) for each condition that holds now
Finding = tuple[str, str, str, str, str]


class AlertMonitor:
    def __init__(
        self,
        health: HealthService,
        requests: RequestStats,
        events: EventBus,
        *,
        operator_tenant: str,
        thresholds: Thresholds | None = None,
        interval_s: float = 30.0,
        tools: ToolService | None = None,
    ) -> None:
        self._health = health
        self._tools = tools
        self._lock = asyncio.Lock()  # one evaluation at a time: each alert raised once
        self._watcher: asyncio.Task[None] | None = None
        self._requests = requests
        self._events = events
        self._operator_tenant = operator_tenant
        self.thresholds = thresholds or Thresholds()
        self._interval_s = interval_s
        self._active: dict[str, Alert] = {}
        self._task: asyncio.Task[None] | None = None

    def watch_tools(self, tools: ToolService) -> None:
        """Check the MCP servers meant to run, and at once when one's status changes."""
        self._tools = tools

    def active(self, principal: Principal) -> list[Alert]:
        """The alerts active now, newest first: the server operator's alone."""
        principal.require_admin("reading alerts")
        if principal.tenant_id != self._operator_tenant:
            return []
        return sorted(self._active.values(), key=lambda a: a.timestamp, reverse=True)

    def acknowledge(self, principal: Principal, alert_id: str) -> Alert:
        """An admin has seen the alert: it stays listed, `acknowledged`, while it holds."""
        principal.require_admin("acknowledging an alert")
        if principal.tenant_id == self._operator_tenant:
            for key, alert in self._active.items():
                if alert.id == alert_id:
                    self._active[key] = replace(alert, acknowledged=True)
                    return self._active[key]
        raise NotFound(f"no active alert {alert_id}", reason="ALERT_NOT_FOUND")

    def findings(self) -> list[Finding]:
        """Every condition that holds now, measured now."""
        limits, found = self.thresholds, []
        usage = self._health.system()
        for key, value, limit in (
            ("cpu", usage.cpu_percent, limits.cpu_percent),
            ("memory", usage.memory_percent, limits.memory_percent),
            ("disk", usage.disk_percent, limits.disk_percent),
        ):
            if value > limit:
                kind = "performance" if key == "cpu" else "resource"
                severity = "critical" if value >= 98 else "high" if value >= 95 else "medium"
                message = f"High {key} usage detected ({value:.1f}% > {limit:g}%)"
                found.append((key, kind, severity, message, "system"))
        requests = self._requests.snapshot()
        if requests.total_requests >= MIN_REQUESTS and requests.error_rate > limits.error_rate:
            message = (
                f"{requests.error_rate:.1%} of requests answered with a server error "
                f"(> {limits.error_rate:.0%})"
            )
            found.append(("errors", "errors", "high", message, "http"))
        p99, counted = self._requests.percentile_ms(0.99, LATENCY_WINDOW_S)
        if counted >= MIN_REQUESTS and p99 > limits.p99_latency_ms:
            message = (
                f"p99 latency of the last {counted} requests is {p99:.0f} ms "
                f"(> {limits.p99_latency_ms:g} ms)"
            )
            found.append(("latency", "performance", "medium", message, "http"))
        for provider, state in self._health.provider_state_now().items():
            if state == "unhealthy":
                message = f"Model provider {provider} is failing: its circuit breaker is open"
                found.append((f"provider:{provider}", "provider", "high", message, provider))
        found.extend(self._mcp_findings())
        found.extend(self._worker_findings())
        return found

    def _mcp_findings(self) -> list[Finding]:
        """MCP servers meant to run (installed, started, not stopped by anyone) that are not
        running: offline, or starting again after going offline. The operator's own are
        named; other tenants' are only counted (which servers a tenant runs is its own)."""
        if self._tools is None:
            return []
        found: list[Finding] = []
        others = 0
        for tenant, session in self._tools.supervisor.by_tenant():
            down = session.state == "offline" or (
                session.state == "starting" and session.restarts > 0
            )
            if not down:
                continue
            if tenant != self._operator_tenant:
                others += 1
                continue
            reason = f": {session.error}" if session.error else ""
            message = f"MCP server {session.name} is offline{reason}"
            found.append((f"mcp:{session.name}", "mcp", "high", message, session.name))
        if others:
            message = f"{others} MCP server(s) of other tenants are offline"
            found.append(("mcp:other-tenants", "mcp", "medium", message, "mcp"))
        return found

    def _worker_findings(self) -> list[Finding]:
        """The background worker lags: its heartbeat is old (a wedged loop) or jobs pile up."""
        details = self._health.check_worker().details
        if not details.get("running"):
            return []  # not started (or stopping): the health report says so
        limits, found = self.thresholds, []
        age = details.get("heartbeat_age_s")
        queued = details.get("queued_jobs") or 0
        if isinstance(age, int | float) and age > limits.worker_heartbeat_s:
            message = f"Worker heartbeat is {age:.1f} s old (> {limits.worker_heartbeat_s:g} s)"
            found.append(("worker:heartbeat", "worker", "high", message, "worker"))
        if queued > limits.worker_queued:
            message = f"{queued} jobs are waiting for the worker (> {limits.worker_queued})"
            found.append(("worker:queue", "worker", "medium", message, "worker"))
        return found

    async def check(self) -> list[Alert]:
        """One evaluation: raise what newly holds, clear what no longer does."""
        async with self._lock:
            return await self._check()

    async def _check(self) -> list[Alert]:
        found = {finding[0]: finding for finding in self.findings()}
        raised = []
        for key in list(self._active):
            if key not in found:
                del self._active[key]
        for key, (_, kind, severity, message, component) in found.items():
            if key in self._active:
                continue
            alert = Alert(new_id("alert", 16), key, kind, severity, message, component, utcnow())
            self._active[key] = alert
            raised.append(alert)
            await self._events.publish(ALERT_TOPIC, alert.to_payload(self._operator_tenant))
        return raised

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="alert-monitor")
        if self._watcher is None and self._tools is not None:
            subscription = await self._events.subscribe(MCP_STATUS_TOPIC)
            self._watcher = asyncio.create_task(self._watch(subscription), name="alert-watch")

    async def stop(self) -> None:
        for task in (self._task, self._watcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._watcher = None

    async def _watch(self, subscription: Any) -> None:
        """Check at once when an MCP server's status changes."""
        async for _ in subscription:
            try:
                await self.check()
            except Exception:
                log.warning("checking alert conditions failed; will retry", exc_info=True)

    async def _loop(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.warning("checking alert conditions failed; will retry", exc_info=True)
            await asyncio.sleep(self._interval_s)
