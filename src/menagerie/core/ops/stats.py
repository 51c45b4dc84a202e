"""Request counters the health endpoints report: totals, latency, error rate, connections."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from time import monotonic


@dataclass(frozen=True, slots=True)
class RequestStatsSnapshot:
    total_requests: int
    total_errors: int
    active_requests: int
    avg_response_ms: float
    error_rate: float
    requests_per_minute: int
    last_request_at: float | None


class RequestStats:
    """In-process counters. Cheap enough for every request: a few integer updates."""

    def __init__(self, window: int = 1000) -> None:
        self.total = 0
        self.errors = 0
        self.active = 0
        self._durations: deque[float] = deque(maxlen=window)
        self._recent: deque[float] = deque(maxlen=10_000)
        # (when, seconds) of the latest requests, for percentiles of the recent ones
        self._timed: deque[tuple[float, float]] = deque(maxlen=window)
        self.last_request_at: float | None = None

    def started(self) -> None:
        self.active += 1

    def finished(self, duration: float, status: int) -> None:
        self.active -= 1
        self.total += 1
        if status >= 500:
            self.errors += 1
        self._durations.append(duration)
        now = monotonic()
        self._recent.append(now)
        self._timed.append((now, duration))
        self.last_request_at = now

    def percentile_ms(self, quantile: float, within_s: float = 300.0) -> tuple[float, int]:
        """The `quantile` (0.99: p99) of the latencies of the requests answered in the last
        `within_s` seconds (the latest `window` at most), nearest rank, in ms; and how many
        requests that is (0: no figure)."""
        cutoff = monotonic() - within_s
        durations = sorted(d for at, d in list(self._timed) if at >= cutoff)
        if not durations:
            return 0.0, 0
        rank = max(0, min(len(durations) - 1, -(-len(durations) * quantile // 1) - 1))
        return round(durations[int(rank)] * 1000, 3), len(durations)

    def per_minute(self, minutes: int = 15) -> list[int]:
        """Requests answered in each of the last `minutes` minutes, oldest first (the latest
        10,000 requests at most)."""
        now = monotonic()
        counts = [0] * minutes
        for moment in list(self._recent):
            back = int((now - moment) // 60)
            if 0 <= back < minutes:
                counts[minutes - 1 - back] += 1
        return counts

    def snapshot(self) -> RequestStatsSnapshot:
        durations = list(self._durations)
        cutoff = monotonic() - 60
        per_minute = sum(1 for moment in self._recent if moment >= cutoff)
        return RequestStatsSnapshot(
            total_requests=self.total,
            total_errors=self.errors,
            active_requests=self.active,
            avg_response_ms=round(sum(durations) / len(durations) * 1000, 2) if durations else 0.0,
            error_rate=round(self.errors / self.total, 4) if self.total else 0.0,
            requests_per_minute=per_minute,
            last_request_at=self.last_request_at,
        )
