"""Where the gateway's time goes: Menagerie under pyinstrument while a load runs against it.

`python -m bench.profile [REQUESTS] [--stream] [--concurrency N] [--tree]` starts the fake upstream
(a process of its own, as in `gateway`), serves Menagerie in this process on uvicorn's loop,
drives `POST /v1/chat/completions` from a separate load process (bench.load's raw client),
and prints pyinstrument's flat profile of this process by self time: the functions the
samples landed in, so the top rows are what costs, not who called it. Only this process is
sampled; the load generator and the upstream are not in the profile.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import uvicorn
from pyinstrument import Profiler

from bench.gateway import MODEL, chat_body, start_upstream, wait_upstream
from bench.middleware import free_port

WARMUP = 200


async def _load(url: str, total: int, concurrency: int, stream: bool, key: str) -> int:
    """The load process (`--load`): the chat request from stdin, sent `total` times."""
    from bench.load import run_load

    result = await run_load(
        url,
        "/v1/chat/completions",
        total,
        concurrency,
        method="POST",
        body=sys.stdin.buffer.read(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        stream=stream,
        engine="raw",
        deadline_s=120,
    )
    print(f"{result.ok} ok, {result.errors} errors, {result.throughput:.0f} req/s")
    return 1 if result.errors else 0


async def _drive(url: str, total: int, concurrency: int, stream: bool, key: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.profile",
        "--load",
        url,
        str(total),
        str(concurrency),
        "1" if stream else "0",
        key,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = await process.communicate(chat_body(stream))
    if process.returncode:
        raise RuntimeError(f"the load failed: {out.decode()[-2000:]}")
    return out.decode().strip()


async def _profile(
    server: uvicorn.Server,
    url: str,
    total: int,
    concurrency: int,
    stream: bool,
    tree: bool,
) -> tuple[str, str, str]:
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:  # noqa: ASYNC110 - uvicorn sets a flag, no event
            await asyncio.sleep(0.05)
    # the admin API token of the first start, as `gateway` calls with
    key = server.config.app.state.platform.bootstrap_result.admin_token.token
    await _drive(url, WARMUP, concurrency, stream, key)
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    summary = await _drive(url, total, concurrency, stream, key)
    profiler.stop()
    server.should_exit = True
    await serving
    text = profiler.output_text(unicode=True, color=False, flat=not tree, show_all=tree)
    return summary, text, _by_area(profiler)


# where a sample's innermost frame lives, by the path of its file
AREAS = (
    (
        "outbound HTTP (openai SDK, httpx2, aiohttp)",
        ("/openai/", "/httpx2/", "/httpcore2/", "/aiohttp/", "/h11/", "/yarl/", "/multidict/"),
    ),
    (
        "inbound HTTP (uvicorn, starlette, fastapi)",
        ("/uvicorn/", "/starlette/", "/fastapi/", "/anyio/", "/httptools/"),
    ),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("instrumentation (OpenTelemetry, prometheus)", ("/opentelemetry/", "/prometheus_client/")),
    ("database (SQLAlchemy, drivers)", ("/sqlalchemy/", "/aiosqlite/", "/asyncpg/", "sqlite3")),
    ("Menagerie", ("/menagerie/",)),
    ("event loop, stdlib", ("/asyncio/", "<built-in>", "/python3.11/", "uvloop")),
)


def _by_area(profiler: Profiler) -> str:
    """Self time summed by library: the share of each layer of the stack."""
    session = profiler.last_session
    assert session is not None
    totals: dict[str, float] = {}
    root = session.root_frame(trim_stem=False)
    stack = [root] if root is not None else []
    while stack:
        frame = stack.pop()
        stack.extend(frame.children)
        if frame.children or frame.total_self_time <= 0:
            continue
        owner = frame.parent if frame.is_synthetic and frame.parent is not None else frame
        path = owner.file_path or owner.function or ""
        area = next((name for name, marks in AREAS if any(m in path for m in marks)), "other")
        totals[area] = totals.get(area, 0.0) + frame.total_self_time
    whole = sum(totals.values()) or 1.0
    lines = [
        f"{share / whole:6.1%}  {area}"
        for area, share in sorted(totals.items(), key=lambda kv: -kv[1])
    ]
    return "self time by area (innermost frame):\n" + "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["--load"]:
        url, total, concurrency, stream, key = sys.argv[2:7]
        sys.exit(asyncio.run(_load(url, int(total), int(concurrency), stream == "1", key)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", type=int, nargs="?", default=2000)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--tree", action="store_true", help="the call tree, every frame")
    args = parser.parse_args()
    upstream_key = f"sk-bench-{secrets.token_hex(12)}"
    master_key = f"mk-bench-{secrets.token_hex(16)}"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="menagerie-prof-")))
        (tmp / "data").mkdir()
        upstream = start_upstream(stack, upstream_key, tmp)
        wait_upstream(upstream, upstream_key)
        os.environ.update(
            {
                "BENCH_FAKE_KEY": upstream_key,
                "BENCH_DATA_DIR": str(tmp / "data"),
                "BENCH_MASTER_KEY": master_key,
                "BENCH_OPENAI_BASE_URL": f"{upstream.base_url}/v1",
                "BENCH_MODEL": MODEL,
            }
        )
        from bench._serve_gateway import create_gateway

        port = free_port()
        config = uvicorn.Config(
            create_gateway(),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            server_header=False,
            loop="uvloop",
        )
        server = uvicorn.Server(config)
        url = f"http://127.0.0.1:{port}"
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            summary, text, areas = runner.run(
                _profile(server, url, args.requests, args.concurrency, args.stream, args.tree)
            )
    kind = "stream" if args.stream else "JSON"
    print(f"gateway {kind}, concurrency {args.concurrency}: {summary}")
    print("\n".join(text.splitlines()[: args.top + 8]))
    print(areas)


if __name__ == "__main__":
    main()
