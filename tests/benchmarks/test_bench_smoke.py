"""`make bench` at its smallest: each benchmark runs in smoke mode and must not fail.

Each runs as `python -m bench NAME` in a subprocess of its own (its servers and event loops
cannot leak into this process), with `MENAGERIE_BENCH_SMOKE=1`: a handful of requests, one
round, one concurrency level. A benchmark whose requests fail raises, and `python -m bench`
then prints FAILED and exits 1. No timing is asserted: the figures at these sizes mean nothing.

Not here: `local` (needs the llama.cpp runtime; tests/core/llm/test_local_model.py covers the
model) and `recall` (test_recall_smoke.py runs it at its smallest size), and `instrumentation`
(three server processes for the same measurement path as `gateway`, which runs here: too
slow for the suite).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils.databases import IN_CI

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120
SMOKED = ("middleware", "gateway", "memory", "chat", "mcp", "sandbox", "runs", "console")


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "MENAGERIE_BENCH_SMOKE": "1",
            "MENAGERIE_LOCAL_MODEL": "off",
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "200",  # rich would wrap a failure's message at 80
        }
    )
    env.pop("MENAGERIE_BENCH_MEMORY_SIZES", None)  # the smoke size, not a developer's choice
    return env


@pytest.mark.parametrize("name", SMOKED)
def test_the_benchmark_runs_clean_at_smoke_size(name: str) -> None:
    if name == "sandbox" and shutil.which("bwrap", path="/usr/bin:/bin") is None:
        pytest.skip("bubblewrap is not installed")
    if name == "console" and shutil.which("chromium") is None:
        if IN_CI:
            pytest.fail("Chromium is required under CI")
        pytest.skip("Chromium is not installed")
    done = subprocess.run(
        [sys.executable, "-m", "bench", name],
        cwd=REPO_ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "FAILED" not in output, output
    assert " err" not in output, output  # a row's error count (middleware's `ok` column)


def test_a_failed_benchmark_is_reported_and_the_exit_status_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import bench.middleware
    from bench.__main__ import main
    from bench.checks import BenchmarkFailed

    def failing() -> None:
        raise BenchmarkFailed("middleware", ["menagerie at concurrency 4: 20 of 20 failed"])

    monkeypatch.setattr(bench.middleware, "run", failing)
    assert main(["middleware"]) == 1
    output = capsys.readouterr().out
    assert "middleware FAILED" in output
    assert "20 of 20 failed" in output
