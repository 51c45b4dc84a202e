"""What every benchmark shares about failures and about the smoke mode.

A benchmark whose requests fail measures the failures, not the thing it names: a 429 or a
500 is cheap. So a benchmark counts its failed requests (non-2xx answers, transport errors,
broken streams) and raises `BenchmarkFailed` when there are any, instead of printing figures
computed from them; `python -m bench` prints the failure in red, goes on with the others and
exits 1 at the end.

`MENAGERIE_BENCH_SMOKE=1` makes every benchmark use its smallest sizes (a handful of
requests, one round, one concurrency level): the test suite runs each that way to see that it
still works. Its figures mean nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TypeVar

from bench.load import LoadResult

SMOKE_ENV = "MENAGERIE_BENCH_SMOKE"

T = TypeVar("T")


class BenchmarkFailed(RuntimeError):
    """Requests failed during a benchmark: its figures would measure the failures."""

    def __init__(self, benchmark: str, failures: Iterable[str]) -> None:
        self.benchmark = benchmark
        self.failures = list(failures)
        super().__init__(f"{benchmark}: requests failed: " + "; ".join(self.failures))


def smoke() -> bool:
    """Whether `MENAGERIE_BENCH_SMOKE` asks for the smallest sizes."""
    return os.environ.get(SMOKE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def sized(full: T, small: T) -> T:
    """`small` in smoke mode, `full` otherwise."""
    return small if smoke() else full


def load_failure(label: str, result: LoadResult) -> str | None:
    """A line about one load run's failed requests, or None when none failed."""
    if result.errors or result.ok == 0:
        answered = result.ok + result.errors
        return (
            f"{label}: {result.errors} of {answered} failed (non-2xx, broken stream or "
            "transport error)"
        )
    return None


def require_no_failures(benchmark: str, failures: Iterable[str | None]) -> None:
    """Raise `BenchmarkFailed` when any of `failures` is a line (None means: none failed)."""
    lines = [line for line in failures if line]
    if lines:
        raise BenchmarkFailed(benchmark, lines)
