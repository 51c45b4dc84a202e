"""Prometheus metrics: what the server did, counted when it happens.

Each platform owns its registry (never prometheus-client's global one), so two servers in one
process (tests, embedded use) count apart. Every figure is a measurement: HTTP requests by
dialect, route template, method and status with their latency; model calls, tokens, cost and
latency by provider and model, from the usage ledger's records; the requests in flight; MCP
tool calls by server and outcome with their latency; sandboxes running and their commands'
latency; socket.io and WebSocket connections by surface; the event bus's lag from publish to
delivery; the database pool's use (read at scrape time); task transitions by kind and state.
Core never imports a dialect: the platform wires each source to its method here (a listener,
like the usage ledger's) and each source calls it where the thing happens.
Several processes serving one port are each scraped on their own (`/metrics` of each).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool

from menagerie.core.llm.usage import UsageRecord

NAMESPACE = "menagerie"
# HTTP latency: from a cache hit to a long model call
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)
# tool calls and sandbox commands: a local process answering in milliseconds to a long command
TOOL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# the event bus: in process a delivery takes microseconds, through Redis a millisecond or so
BUS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5)
# a path that matched no route is counted under one label, not one series per path
UNMATCHED = "<unmatched>"


class PoolCollector(Collector):
    """The database pool's use, read when scraped: connections checked out and the pool's
    size (with overflow beyond it). A pool without those figures (SQLite's own pools other
    than a queue pool) reports nothing rather than a made-up zero."""

    def __init__(self, pool: Callable[[], object]) -> None:
        self._pool = pool

    def collect(self) -> Iterable[Metric]:
        pool = self._pool()
        if not isinstance(pool, QueuePool):
            return
        figures = (
            ("db_pool_checked_out", "Database connections checked out now", pool.checkedout()),
            ("db_pool_size", "Database pool size (connections kept open)", pool.size()),
            ("db_pool_overflow", "Database connections open beyond the pool size", pool.overflow()),
        )
        for name, documentation, value in figures:
            yield GaugeMetricFamily(f"{NAMESPACE}_{name}", documentation, value=max(value, 0))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._pool_collector: PoolCollector | None = None
        self._sandboxes_running: Callable[[], int] | None = None
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests answered, by dialect, route template, method and status",
            ("dialect", "route", "method", "status"),
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "Time from a request's arrival to its last byte, by dialect and route template",
            ("dialect", "route", "method"),
            namespace=NAMESPACE,
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.http_in_flight = Gauge(
            "http_requests_in_flight",
            "HTTP requests being answered now",
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.llm_requests = Counter(
            "llm_requests",
            "Model calls, by provider, model and outcome (ok, error)",
            ("provider", "model", "outcome"),
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "llm_tokens",
            "Tokens of model calls as the providers reported them, by direction",
            ("provider", "model", "direction"),
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.llm_cost = Counter(
            "llm_cost_usd",
            "Cost of model calls in US dollars, from the catalogue's prices",
            ("provider", "model"),
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.llm_duration = Histogram(
            "llm_request_duration_seconds",
            "Model call latency, by provider and model",
            ("provider", "model"),
            namespace=NAMESPACE,
            buckets=LLM_BUCKETS,
            registry=self.registry,
        )
        self.tool_calls = Counter(
            "mcp_tool_calls",
            "MCP tool calls, by server and outcome (ok, tool_error: the tool answered an error, "
            "failed: no answer, offline or timed out)",
            ("server", "outcome"),
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.tool_duration = Histogram(
            "mcp_tool_call_duration_seconds",
            "MCP tool call latency, by server",
            ("server",),
            namespace=NAMESPACE,
            buckets=TOOL_BUCKETS,
            registry=self.registry,
        )
        self.sandboxes_running = Gauge(
            "sandboxes_running",
            "Sandboxes running now",
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.sandboxes_running.set_function(self._count_sandboxes)
        # seed 002 names the figure `deployments_active` (Secret Panthers' `/health`): the
        # same word here, unprefixed, so a Panthers dashboard finds it on `/panthers/metrics`
        self._deployments_active: Callable[[], int] | None = None
        self.deployments_active = Gauge(
            "deployments_active",
            "Agent deployments (Secret Panthers) this server supervises now",
            registry=self.registry,
        )
        self.deployments_active.set_function(self._count_deployments)
        self.sandbox_exec_duration = Histogram(
            "sandbox_exec_duration_seconds",
            "Sandbox command latency, by outcome (ok: exit 0, failed: another exit, timeout)",
            ("outcome",),
            namespace=NAMESPACE,
            buckets=TOOL_BUCKETS,
            registry=self.registry,
        )
        self.connections = Gauge(
            "realtime_connections",
            "Realtime connections open now, by transport (socketio, websocket) and surface",
            ("transport", "surface"),
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.bus_lag = Histogram(
            "event_bus_lag_seconds",
            "Time from an event's publish to its delivery to a subscriber, by topic",
            ("topic",),
            namespace=NAMESPACE,
            buckets=BUS_BUCKETS,
            registry=self.registry,
        )
        self.task_transitions = Counter(
            "task_transitions",
            "Tasks and orchestrations entering a state, by kind (task, orchestration …) and "
            "state (queued, running, completed …)",
            ("kind", "state"),
            namespace=NAMESPACE,
            registry=self.registry,
        )

    def request_started(self) -> None:
        self.http_in_flight.inc()

    def request_finished(
        self, *, dialect: str, route: str, method: str, status: int, seconds: float
    ) -> None:
        self.http_in_flight.dec()
        self.http_requests.labels(dialect, route, method, str(status)).inc()
        self.http_duration.labels(dialect, route, method).observe(seconds)

    def model_call(self, record: UsageRecord) -> None:
        """A usage ledger listener: one record per attempt at a provider."""
        provider, model = record.provider, record.model
        self.llm_requests.labels(provider, model, record.outcome).inc()
        self.llm_tokens.labels(provider, model, "input").inc(max(0, record.input_tokens))
        self.llm_tokens.labels(provider, model, "output").inc(max(0, record.output_tokens))
        self.llm_cost.labels(provider, model).inc(max(0.0, record.cost))
        self.llm_duration.labels(provider, model).observe(max(0.0, record.latency_ms) / 1000)

    def tool_call(self, server: str, outcome: str, seconds: float) -> None:
        """A tool service listener: one MCP tool call answered (or not)."""
        self.tool_calls.labels(server, outcome).inc()
        self.tool_duration.labels(server).observe(max(0.0, seconds))

    def sandbox_exec(self, outcome: str, seconds: float) -> None:
        """A sandbox service listener: one command finished (`ok`, `failed`, `timeout`)."""
        self.sandbox_exec_duration.labels(outcome).observe(max(0.0, seconds))

    def watch_sandboxes(self, running: Callable[[], int]) -> None:
        """Where the number of running sandboxes is read, at scrape time."""
        self._sandboxes_running = running

    def watch_deployments(self, active: Callable[[], int]) -> None:
        """Where the number of supervised deployments is read, at scrape time."""
        self._deployments_active = active

    def _count_deployments(self) -> float:
        return float(self._deployments_active()) if self._deployments_active is not None else 0.0

    def _count_sandboxes(self) -> float:
        return float(self._sandboxes_running()) if self._sandboxes_running is not None else 0.0

    def connection(self, transport: str, surface: str, delta: int) -> None:
        """A realtime connection opened (+1) or closed (-1)."""
        self.connections.labels(transport, surface).inc(delta)

    def bus_delivered(self, topic: str, seconds: float) -> None:
        """An event bus listener: one event handed to one subscriber, `seconds` after its
        publish (clocks of two replicas may differ a little: never below zero)."""
        self.bus_lag.labels(topic).observe(max(0.0, seconds))

    def watch_database(self, pool: Callable[[], object]) -> None:
        """Read the database pool's use at each scrape (`engine.pool` may be replaced)."""
        if self._pool_collector is None:
            self._pool_collector = PoolCollector(pool)
            self.registry.register(self._pool_collector)

    def task_transition(self, kind: str, state: str) -> None:
        """A task or orchestration entered `state`: for the task runner to call at each
        transition (`kind` a small fixed set: "task", "orchestration", "step" …; never an
        id, which would make a series per task)."""
        self.task_transitions.labels(kind, state).inc()

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The registry in the format asked for: Prometheus text, or OpenMetrics when the
        scraper's Accept header asks for it. Returns (body, content type)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
