"""Prometheus metrics: what the server did, counted when it happens.

Each platform owns its registry (never prometheus-client's global one), so two servers in one
process (tests, embedded use) count apart. Every figure is a measurement: HTTP requests by
dialect, route template, method and status with their latency; model calls, tokens, cost and
latency by provider and model, from the usage ledger's records; the requests in flight.
Several processes serving one port are each scraped on their own (`/metrics` of each).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

from menagerie.core.llm.usage import UsageRecord

NAMESPACE = "menagerie"
# HTTP latency: from a cache hit to a long model call
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)
# a path that matched no route is counted under one label, not one series per path
UNMATCHED = "<unmatched>"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The registry in the format asked for: Prometheus text, or OpenMetrics when the
        scraper's Accept header asks for it. Returns (body, content type)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
