"""The embedded model through Menagerie against llama.cpp's server called directly.

One llama.cpp server (the one Menagerie's `local` endpoint runs) answers both ways, the same
streamed request at temperature 0, alternating:

- **direct**: `POST {llama.cpp}/v1/chat/completions`;
- **through Menagerie**: `POST {menagerie}/v1/chat/completions` with the master key and the
  local model's id, on a real uvicorn server on loopback.

Time to first token is measured to the first chunk that carries text; tokens per second over
the rest of the answer. The difference of the medians is what Menagerie adds (goal: ≤ 5 ms to
the first token). The runtime is the one the test suite builds (`.cache/local-model`, or
`MENAGERIE_BENCH_LOCAL_RUNTIME_DIR`); it is built first when missing, which takes minutes.
`MENAGERIE_BENCH_LOCAL_REQUESTS` sets the requests per way (default 30).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from pydantic import SecretStr
from rich.table import Table

from bench.middleware import free_port
from menagerie.app import create_app
from menagerie.core.llm.local.runtime import LocalRuntime
from menagerie.platform import Platform
from menagerie.settings import Settings

TITLE = "The embedded local model: Menagerie against llama.cpp directly"
REQUESTS = int(os.environ.get("MENAGERIE_BENCH_LOCAL_REQUESTS", "30"))
MASTER_KEY = "bench-master-key-0123456789abcdef"
PROMPT = "Name three colours."
MAX_TOKENS = 48
GOAL_ADDED_TTFT_MS = 5.0
RUNTIME_DIR = Path(
    os.environ.get("MENAGERIE_BENCH_LOCAL_RUNTIME_DIR")
    or Path(__file__).resolve().parents[1] / ".cache" / "local-model"
)


@dataclass(frozen=True, slots=True)
class Sample:
    ttft_ms: float
    tokens: int
    tokens_per_s: float


class BenchFailure(RuntimeError):
    """A request of the benchmark failed: no ratio is printed for a failed run."""


async def _stream(
    client: httpx.AsyncClient, url: str, model: str, headers: dict[str, str]
) -> Sample:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": MAX_TOKENS,
        "temperature": 0,
        "stream": True,
    }
    started = time.perf_counter()
    first: float | None = None
    pieces = 0
    async with client.stream("POST", url, json=body, headers=headers) as response:
        if response.status_code != 200:
            raise BenchFailure(f"{url} answered {response.status_code}: {await response.aread()!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line.removeprefix("data: "))
            choices = chunk.get("choices") or []
            text = choices[0].get("delta", {}).get("content") if choices else None
            if text:
                pieces += 1
                first = first or time.perf_counter()
    ended = time.perf_counter()
    if first is None:
        raise BenchFailure(f"{url} streamed no text")
    rate = (pieces - 1) / (ended - first) if pieces > 1 and ended > first else 0.0
    return Sample((first - started) * 1000, pieces, rate)


async def _measure(data_dir: Path) -> dict[str, list[Sample]]:
    runtime = LocalRuntime(RUNTIME_DIR)
    if not runtime.ready:
        status = await runtime.prepare()
        if status.state != "ready":
            raise BenchFailure(f"the local model's runtime: {status.describe()}")
    settings = Settings(
        data_dir=data_dir,
        log_level="WARNING",
        rate_limits_enabled=False,
        master_key=SecretStr(MASTER_KEY),
        local_model="auto",
        local_runtime_dir=RUNTIME_DIR,
        _env_file=None,  # type: ignore[call-arg]
    )
    platform = Platform.build(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(platform=platform), port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.05)
        if not await platform.local.wait_ready(120):
            raise BenchFailure(f"the local model is not ready: {platform.local.status().detail}")
        model = platform.local.model_id
        await platform.endpoints.ensure_awake("local")
        direct = f"{platform.local.base_url}/chat/completions"
        menagerie = f"http://127.0.0.1:{port}/v1/chat/completions"
        auth = {"Authorization": f"Bearer {MASTER_KEY}"}
        results: dict[str, list[Sample]] = {"direct": [], "through Menagerie": []}
        async with httpx.AsyncClient(timeout=120, trust_env=False) as client:
            for _ in range(3):  # warm both paths (the model's first call, connection pools)
                await _stream(client, direct, model, {})
                await _stream(client, menagerie, model, auth)
            for _ in range(REQUESTS):
                results["direct"].append(await _stream(client, direct, model, {}))
                results["through Menagerie"].append(await _stream(client, menagerie, model, auth))
        return results
    finally:
        server.should_exit = True
        await serving


def run() -> Table:
    with tempfile.TemporaryDirectory(prefix="menagerie-bench-local-") as tmp:
        results = asyncio.run(_measure(Path(tmp) / "data"))
    direct_ttft = statistics.median(s.ttft_ms for s in results["direct"])
    table = Table(title=f"{TITLE} ({REQUESTS} streamed answers each way, medians)")
    for column in ("path", "first token ms", "p95 ms", "added ms", "goal", "tokens/s", "tokens"):
        table.add_column(column, justify="right")
    for name, samples in results.items():
        ttft = sorted(s.ttft_ms for s in samples)
        p50 = statistics.median(ttft)
        table.add_row(
            name,
            f"{p50:.2f}",
            f"{ttft[int(0.95 * (len(ttft) - 1))]:.2f}",
            "baseline" if name == "direct" else f"{p50 - direct_ttft:+.2f}",
            "" if name == "direct" else f"≤ {GOAL_ADDED_TTFT_MS:g}",
            f"{statistics.median(s.tokens_per_s for s in samples):.0f}",
            f"{statistics.median(s.tokens for s in samples):.0f}",
        )
    return table
