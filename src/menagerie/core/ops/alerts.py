"""Alerts: conditions of the server checked on a schedule, raised while they hold.

Each rule reads a measurement (CPU, memory and disk from psutil, the share of server errors
among recent requests, each model provider's state) against a threshold from settings. An
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

log = logging.getLogger(__name__)
ALERT_TOPIC = "ops.alert"
MIN_REQUESTS = 20  # fewer requests than this say nothing about an error rate


@dataclass(frozen=True, slots=True)
class Thresholds:
    cpu_percent: float = 90.0
    memory_percent: float = 90.0
    disk_percent: float = 90.0
    error_rate: float = 0.05


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    key: str  # the condition: "cpu", "provider:openai" …; one active alert per key
    type: str  # performance | resource | errors | provider
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
    ) -> None:
        self._health = health
        self._requests = requests
        self._events = events
        self._operator_tenant = operator_tenant
        self.thresholds = thresholds or Thresholds()
        self._interval_s = interval_s
        self._active: dict[str, Alert] = {}
        self._task: asyncio.Task[None] | None = None

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
        for provider, state in self._health.provider_state_now().items():
            if state == "unhealthy":
                message = f"Model provider {provider} is failing: its circuit breaker is open"
                found.append((f"provider:{provider}", "provider", "high", message, provider))
        return found

    async def check(self) -> list[Alert]:
        """One evaluation: raise what newly holds, clear what no longer does."""
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

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.warning("checking alert conditions failed; will retry", exc_info=True)
            await asyncio.sleep(self._interval_s)
