"""Small helpers dialects share when they put a health report on the wire."""

from __future__ import annotations

from menagerie.core.ops.health import HealthReport


def http_status(report: HealthReport) -> int:
    """503 when the server cannot do its job, so load balancers take it out of rotation."""
    return 200 if report.healthy else 503


def seconds_text(milliseconds: float | None) -> str | None:
    if milliseconds is None:
        return None
    return f"{milliseconds / 1000:.3g}s" if milliseconds >= 1000 else f"{milliseconds:.3g}ms"
