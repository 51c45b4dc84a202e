"""Health: every field comes from a real check made when asked."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from menagerie.core.clock import utcnow
from menagerie.core.errors import Unavailable
from menagerie.core.events import EventBus
from menagerie.core.ops.model_health import (
    CallPerformance,
    ModelCallStats,
    ProviderState,
    RouterHealth,
    RouterView,
    provider_states,
    router_health,
)
from menagerie.core.ops.stats import RequestStats, RequestStatsSnapshot
from menagerie.core.ops.system import SystemUsage, prime_cpu, system_usage
from menagerie.core.runs.worker import InProcessWorker
from menagerie.storage.database import Database, DatabaseStatus

Status = Literal["healthy", "degraded", "unhealthy"]

# A component whose failure makes the whole server unhealthy rather than degraded.
CRITICAL = frozenset({"database", "filesystem"})
WORKER_STALL_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    name: str
    healthy: bool
    latency_ms: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def status(self) -> Status:
        return "healthy" if self.healthy else "unhealthy"


@dataclass(frozen=True, slots=True)
class ResourceUsage:
    cpu_percent: float
    memory_percent: float
    disk_percent: float


@dataclass(frozen=True, slots=True)
class HealthReport:
    status: Status
    checked_at: datetime
    version: str
    uptime_s: float
    components: dict[str, ComponentHealth]
    providers: dict[str, bool]
    requests: RequestStatsSnapshot
    resources: ResourceUsage
    database: DatabaseStatus
    # each provider now (breaker, latest call); the router; the model calls of the window
    provider_states: dict[str, ProviderState] = field(default_factory=dict)
    router: RouterHealth | None = None
    model_calls: CallPerformance | None = None

    @property
    def healthy(self) -> bool:
        return self.status != "unhealthy"

    @property
    def models_status(self) -> Status:
        """The model providers together: usable while any one is; degraded with failures."""
        states = [s for s in self.provider_states.values() if s != "not_configured"]
        if not any(s in ("healthy", "configured", "degraded") for s in states):
            return "unhealthy"
        return "degraded" if any(s in ("degraded", "unhealthy") for s in states) else "healthy"


@dataclass(frozen=True, slots=True)
class AgentHealth:
    """A chat agent's readiness: defined, a model to answer with, memory to remember in."""

    agent_id: str
    status: Status
    ready: bool
    memory_connected: bool
    router: RouterHealth | None
    performance: CallPerformance | None


def agent_health(report: HealthReport, agent_id: str, *, defined: bool) -> AgentHealth:
    """Ready when the agent is defined, the database (sessions, memories) answers and the
    router has a model to call; degraded while the router is."""
    memory = report.components["database"].healthy
    router = report.router
    answering = router is None or router.primary_model is not None
    ready = defined and memory and answering
    status: Status = (
        "unhealthy"
        if not ready
        else "degraded"
        if router is not None and router.status != "healthy"
        else "healthy"
    )
    return AgentHealth(agent_id, status, ready, memory, router, report.model_calls)


class HealthService:
    def __init__(
        self,
        *,
        version: str,
        database: Database,
        events: EventBus,
        worker: InProcessWorker,
        request_stats: RequestStats,
        data_dir: Path,
        providers: dict[str, bool],
    ) -> None:
        self.version = version
        self._db = database
        self._events = events
        self._worker = worker
        self.request_stats = request_stats
        self._data_dir = data_dir
        self._providers = providers
        self._started = time.monotonic()
        self.started_at = utcnow()
        self._router: RouterView | None = None
        self._sandbox_status: Callable[[], Any] | None = None
        self._local_status: Callable[[], Any] | None = None
        self._runs_status: Callable[[], Any] | None = None
        self.model_calls = ModelCallStats()
        self._memory_status: Callable[[], dict[str, Any]] | None = None
        prime_cpu()  # so that the first report's CPU figure is a measurement, not 0.0

    def watch_models(self, router: RouterView, ledger: Any) -> None:
        """Read provider and router state live from `router`, and count every model call the
        usage `ledger` records (its `on_record` hook)."""
        self._router = router
        ledger.on_record(self.model_calls.record)

    def watch_runs(self, status: Callable[[], Any]) -> None:
        """Report the runs' broker and this process's executor beside the in-process worker."""
        self._runs_status = status

    def watch_sandboxes(self, status: Callable[[], Any]) -> None:
        """Report the sandbox backend: which runs, whether it works, how each limit holds."""
        self._sandbox_status = status

    def watch_local_model(self, status: Callable[[], Any]) -> None:
        """Report the embedded model: off, being prepared (how far), ready, or why it cannot."""
        self._local_status = status

    def check_local_model(self) -> ComponentHealth | None:
        status = self._local_status() if self._local_status is not None else None
        if status is None or status.state == "off":
            return None
        details = {"state": status.state, "model": status.model, "progress": status.progress}
        if status.eta is not None:
            details["eta"] = status.eta
        # a machine that cannot build it still answers (offline model): only a failed
        # build is something to fix
        failed = status.state == "failed"
        return ComponentHealth(
            "local_model",
            not failed,
            details={**details, **({} if failed else {"detail": status.detail})},
            error=status.detail if failed else None,
        )

    def check_sandboxes(self) -> ComponentHealth | None:
        if self._sandbox_status is None:
            return None
        status = self._sandbox_status()
        return ComponentHealth(
            "sandboxes",
            status.available,
            details={
                "backend": status.name,
                "strength": status.strength,
                "limits": dict(status.limits),
                **({"note": status.reason} if status.reason and status.available else {}),
            },
            error=None if status.available else status.reason,
        )

    def watch_memory(self, status: Callable[[], dict[str, Any]]) -> None:
        """Report memory search: the embedder, memories embedded and still to embed."""
        self._memory_status = status

    def check_memory(self) -> ComponentHealth | None:
        if self._memory_status is None:
            return None
        # keyword-only search (no embedder installed) works: reported, never a failure
        return ComponentHealth("memory", True, details=dict(self._memory_status()))

    @property
    def uptime_s(self) -> float:
        return round(time.monotonic() - self._started, 3)

    async def check_database(self) -> tuple[ComponentHealth, DatabaseStatus]:
        status = await self._db.status()
        component = ComponentHealth(
            "database",
            status.healthy,
            status.latency_ms,
            {
                "backend": status.backend,
                "pool_in_use": status.pool_in_use,
                "pool_size": status.pool_size,
                "query_avg_ms": status.query_avg_ms,
            },
            status.error,
        )
        return component, status

    async def check_event_bus(self) -> ComponentHealth:
        try:
            latency = await asyncio.wait_for(self._events.ping(), timeout=3)
        except (Unavailable, TimeoutError) as exc:
            return ComponentHealth(
                "event_bus", False, details={"backend": self._events.name}, error=str(exc)
            )
        return ComponentHealth(
            "event_bus", True, round(latency * 1000, 3), {"backend": self._events.name}
        )

    def check_worker(self) -> ComponentHealth:
        status = self._worker.status()
        stalled = status.heartbeat_age_s is None or status.heartbeat_age_s > WORKER_STALL_SECONDS
        runs = self._runs_status() if self._runs_status is not None else None
        # an executor whose heartbeat stopped cannot keep its runs: they would be taken over
        runs_stalled = (
            runs is not None
            and runs.executing
            and (runs.heartbeat_age_s is None or runs.heartbeat_age_s > WORKER_STALL_SECONDS)
        )
        healthy = status.running and not stalled and not runs_stalled
        return ComponentHealth(
            "worker",
            healthy,
            details={
                "mode": status.mode,
                "running": status.running,
                "concurrency": status.concurrency,
                "active_jobs": status.active_jobs,
                "queued_jobs": status.queued_jobs,
                "completed_jobs": status.completed_jobs,
                "failed_jobs": status.failed_jobs,
                "heartbeat_age_s": status.heartbeat_age_s,
                **(
                    {
                        "runs_broker": runs.broker,
                        "runs_executing": runs.executing,
                        "runs_active": runs.active,
                        "runs_completed": runs.completed,
                        "runs_failed": runs.failed,
                        "runs_heartbeat_age_s": runs.heartbeat_age_s,
                    }
                    if runs is not None
                    else {}
                ),
            },
            error=None if healthy else ("not running" if not status.running else "stalled"),
        )

    async def check_filesystem(self) -> ComponentHealth:
        def probe() -> None:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            # a name of its own per check: concurrent checks (a balancer and a page polling at
            # once) removed each other's probe, and the server answered unhealthy
            path = self._data_dir / f".health-{os.getpid()}-{uuid.uuid4().hex}"
            path.write_bytes(b"ok")
            path.unlink()

        started = time.perf_counter()
        try:
            await asyncio.to_thread(probe)
        except OSError as exc:
            return ComponentHealth(
                "filesystem", False, details={"path": str(self._data_dir)}, error=str(exc)
            )
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        return ComponentHealth("filesystem", True, elapsed, {"path": str(self._data_dir)})

    def resources(self) -> ResourceUsage:
        usage = self.system()
        return ResourceUsage(
            cpu_percent=usage.cpu_percent,
            memory_percent=usage.memory_percent,
            disk_percent=usage.disk_percent,
        )

    def system(self) -> SystemUsage:
        return system_usage(self._data_dir)

    async def report(self) -> HealthReport:
        (database, db_status), event_bus, filesystem = await asyncio.gather(
            self.check_database(), self.check_event_bus(), self.check_filesystem()
        )
        components = {
            "database": database,
            "event_bus": event_bus,
            "worker": self.check_worker(),
            "filesystem": filesystem,
        }
        memory = self.check_memory()
        if memory is not None:
            components["memory"] = memory
        sandboxes = self.check_sandboxes()
        if sandboxes is not None:
            components["sandboxes"] = sandboxes
        local_model = self.check_local_model()
        if local_model is not None:
            components["local_model"] = local_model
        failing = {name for name, component in components.items() if not component.healthy}
        status: Status = "unhealthy" if failing & CRITICAL else "degraded" if failing else "healthy"
        return HealthReport(
            status=status,
            checked_at=utcnow(),
            version=self.version,
            uptime_s=self.uptime_s,
            components=components,
            providers=self._configured(),
            requests=self.request_stats.snapshot(),
            resources=self.resources(),
            database=db_status,
            provider_states=self._provider_states(),
            router=router_health(self._router) if self._router is not None else None,
            model_calls=self.model_calls.performance() if self._router is not None else None,
        )

    def provider_state_now(self) -> dict[str, ProviderState]:
        """Each model provider's state now (breaker, latest call), without a full report."""
        return self._provider_states()

    def _provider_states(self) -> dict[str, ProviderState]:
        if self._router is not None:
            return provider_states(self._router, self.model_calls, list(self._providers))
        # not watching a router (a bare service in a test): what is configured, unchecked
        return {n: "configured" if ok else "not_configured" for n, ok in self._providers.items()}

    def _configured(self) -> dict[str, bool]:
        if self._router is None:
            return dict(self._providers)
        live = set(self._router.providers)
        return {name: name in live for name in dict.fromkeys([*self._providers, *live])}
