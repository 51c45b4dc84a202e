"""A small, bounded load generator for servers on the loopback interface.

`run_load` sends requests (GETs by default, or any method with a body) from `concurrency`
tasks and reports throughput and latency percentiles. It stops after `total` requests or at a
hard deadline, whichever comes first, and refuses any host that is not loopback.

Two clients can send them:

- `engine="httpx"` (the default): one keep-alive `httpx.AsyncClient` shared by the tasks.
- `engine="raw"`: one keep-alive HTTP/1.1 connection per task, written by hand and parsed with
  `httptools` (the C parser uvicorn uses). It costs the client a small fraction of the CPU
  httpx does, which matters when the client shares two cores with the servers it measures.

With `stream=True` each answer is read as a server-sent event stream: the latency is to its
end, which must be `data: [DONE]`, and the time to the first token (the first OpenAI chunk
with text in it) is reported too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

import httptools
import httpx

DEFAULT_DEADLINE_S = 60.0
DEFAULT_REQUEST_TIMEOUT_S = 10.0
STREAM_END = b"data: [DONE]"

Engine = Literal["httpx", "raw"]
# one request: (answered in full with 2xx, seconds to the first token or None)
Exchange = Callable[[float], Awaitable[tuple[bool, float | None]]]


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured. Latencies are in milliseconds, of successful requests."""

    concurrency: int
    requested: int
    ok: int
    errors: int
    elapsed_s: float
    throughput: float  # successful requests per second over the whole run
    p50_ms: float
    p99_ms: float
    timed_out: bool  # the deadline cut the run short
    # streams only (NaN otherwise): time to the first event that carries text
    ttft_p50_ms: float = math.nan
    ttft_p99_ms: float = math.nan
    # every successful request's figures, ascending, to pool several runs
    latencies_ms: tuple[float, ...] = field(default=(), repr=False)
    ttfts_ms: tuple[float, ...] = field(default=(), repr=False)


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list; NaN when it is empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def ensure_loopback(base_url: str) -> None:
    """Raise ValueError unless `base_url` names a loopback host."""
    host = httpx.URL(base_url).host
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"load is only sent to loopback hosts, not {host!r}")


def carries_token(line: bytes | str) -> bool:
    """Whether an SSE line is an OpenAI chat chunk with text (or a tool call) in its delta.

    The first chunk of an OpenAI stream only names the role (`"content": ""`); the time to
    the first token is the time to the first chunk after it that has something to show.
    """
    if isinstance(line, str):
        line = line.encode()
    if not line.startswith(b"data:"):
        return False
    payload = line[5:].strip()
    if not payload.startswith(b"{"):
        return False  # "[DONE]"
    try:
        chunk = json.loads(payload)
    except ValueError:
        return False
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("tool_calls"):
            return True
    return False


def make_client(base_url: str, concurrency: int, timeout_s: float) -> httpx.AsyncClient:
    """One keep-alive client whose pool has exactly one connection per concurrent task."""
    limits = httpx.Limits(
        max_connections=concurrency,
        max_keepalive_connections=concurrency,
        keepalive_expiry=30.0,
    )
    # trust_env=False: no proxy from the environment may sit between us and loopback
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout_s, trust_env=False)


async def run_load(
    base_url: str,
    path: str,
    total: int,
    concurrency: int,
    *,
    deadline_s: float = DEFAULT_DEADLINE_S,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    stream: bool = False,
    engine: Engine = "httpx",
) -> LoadResult:
    """Send `total` requests to `base_url + path`, `concurrency` at a time; never past the
    deadline. Each is `method` with `body` (the same bytes every time) and `headers`.

    A response outside 2xx, or a transport error, counts as an error and not in the latencies.
    With `stream=True` the latency is to the end of the stream, which must end with
    `data: [DONE]` and carry a token (else it is an error); the time to that token is
    measured too.
    """
    if total < 1 or concurrency < 1:
        raise ValueError("total and concurrency must be at least 1")
    if deadline_s <= 0:
        raise ValueError("deadline_s must be positive")
    ensure_loopback(base_url)
    concurrency = min(concurrency, total)
    if engine == "raw":
        return await _run_raw(
            base_url, path, total, concurrency, deadline_s, request_timeout_s,
            method, body, headers, stream,
        )  # fmt: skip
    async with make_client(base_url, concurrency, request_timeout_s) as client:

        def exchange_for_task() -> Exchange:
            async def exchange(sent: float) -> tuple[bool, float | None]:
                if stream:
                    return await _httpx_stream(client, method, path, body, headers, sent)
                response = await client.request(method, path, content=body, headers=headers)
                return response.is_success, None

            return exchange

        return await _drive(
            total, concurrency, deadline_s, request_timeout_s, exchange_for_task, (httpx.HTTPError,)
        )


async def _drive(
    total: int,
    concurrency: int,
    deadline_s: float,
    request_timeout_s: float,
    exchange_for_task: Callable[[], Exchange],
    transport_errors: tuple[type[BaseException], ...],
    cleanup: Callable[[], None] | None = None,
) -> LoadResult:
    """`concurrency` tasks, each with its own `exchange`, until `total` or the deadline."""
    latencies: list[float] = []
    ttfts: list[float] = []
    errors = 0
    issued = 0
    timed_out = False
    started = time.perf_counter()
    stop_at = started + deadline_s

    async def worker() -> None:
        nonlocal issued, errors, timed_out
        exchange = exchange_for_task()
        while issued < total:
            if time.perf_counter() >= stop_at:
                timed_out = True
                return
            issued += 1  # no await between the check and the increment: no race
            sent = time.perf_counter()
            try:
                ok, first = await exchange(sent)
            except transport_errors:
                errors += 1
                continue
            elapsed = time.perf_counter() - sent
            if ok:
                latencies.append(elapsed * 1000)
                if first is not None:
                    ttfts.append(first * 1000)
            else:
                errors += 1

    try:
        # the hard stop, for a request that hangs past the deadline
        async with asyncio.timeout(deadline_s + request_timeout_s):
            await asyncio.gather(*(worker() for _ in range(concurrency)))
    except TimeoutError:
        timed_out = True
    finally:
        if cleanup is not None:
            cleanup()
    elapsed_s = time.perf_counter() - started

    latencies.sort()
    ttfts.sort()
    return LoadResult(
        concurrency=concurrency,
        requested=total,
        ok=len(latencies),
        errors=errors,
        elapsed_s=elapsed_s,
        throughput=len(latencies) / elapsed_s if elapsed_s > 0 else 0.0,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        timed_out=timed_out,
        ttft_p50_ms=percentile(ttfts, 50),
        ttft_p99_ms=percentile(ttfts, 99),
        latencies_ms=tuple(latencies),
        ttfts_ms=tuple(ttfts),
    )


async def _httpx_stream(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: bytes | None,
    headers: Mapping[str, str] | None,
    sent: float,
) -> tuple[bool, float | None]:
    """Read one SSE answer to its end: (complete and 2xx, seconds to the first token)."""
    first: float | None = None
    done = False
    async with client.stream(method, path, content=body, headers=headers) as response:
        if not response.is_success:
            await response.aread()
            return False, None
        async for line in response.aiter_lines():
            if first is None and carries_token(line):
                first = time.perf_counter() - sent
            elif line.encode() == STREAM_END:
                done = True
    return done and first is not None, first


# --- the raw client ------------------------------------------------------------------------


class _RawConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that carries one request at a time.

    It is also the `httptools` parser's callback object (`on_body`, `on_message_complete`).
    """

    def __init__(self, stream: bool) -> None:
        self.stream = stream
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.done: asyncio.Future[None] | None = None
        self.sent = 0.0
        self.first: float | None = None
        self.pending = b""  # a partial SSE line, until the first token is seen
        self.tail = b""  # the end of the body, for `data: [DONE]`

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    async def exchange(self, request: bytes, sent: float) -> tuple[bool, float | None]:
        assert self.transport is not None
        self.done = asyncio.get_running_loop().create_future()
        self.parser = httptools.HttpResponseParser(self)
        self.sent, self.first, self.pending, self.tail = sent, None, b"", b""
        self.transport.write(request)
        await self.done
        status = self.parser.get_status_code()
        if not self.parser.should_keep_alive():
            self.close()
        ok = 200 <= status < 300
        if self.stream:
            ok = ok and self.first is not None and self.tail.rstrip().endswith(STREAM_END)
        return ok, self.first

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.parser is None or self.done is None or self.done.done():
            return  # nothing asked for this: the next request's parser would choke on it
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.done.set_exception(exc)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(exc or ConnectionResetError("the server closed the connection"))

    # httptools callbacks

    def on_body(self, body: bytes) -> None:
        if self.stream:
            if self.first is None:
                lines = (self.pending + body).split(b"\n")
                self.pending = lines.pop()
                for line in lines:
                    if carries_token(line):
                        self.first = time.perf_counter() - self.sent
                        break
            self.tail = (self.tail + body)[-64:]

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(None)


async def _run_raw(
    base_url: str,
    path: str,
    total: int,
    concurrency: int,
    deadline_s: float,
    request_timeout_s: float,
    method: str,
    body: bytes | None,
    headers: Mapping[str, str] | None,
    stream: bool,
) -> LoadResult:
    url = httpx.URL(base_url)
    host, port = url.host, url.port or 80
    if url.scheme != "http":
        raise ValueError("the raw client speaks plain HTTP/1.1 only")
    target = (url.raw_path.rstrip(b"/").decode() or "") + path
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body or b'')}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
    connections: list[_RawConnection] = []
    loop = asyncio.get_running_loop()

    def exchange_for_task() -> Exchange:
        holder: list[_RawConnection] = []

        async def exchange(sent: float) -> tuple[bool, float | None]:
            if not holder or not holder[0].usable:
                holder.clear()
                async with asyncio.timeout(request_timeout_s):
                    _, connection = await loop.create_connection(
                        lambda: _RawConnection(stream), host, port
                    )
                holder.append(connection)
                connections.append(connection)
            connection = holder[0]
            try:
                async with asyncio.timeout(request_timeout_s):
                    return await connection.exchange(request, sent)
            except BaseException:
                connection.close()  # its state is unknown: never reuse it
                raise

        return exchange

    def close_all() -> None:
        for connection in connections:
            connection.close()

    errors: tuple[type[BaseException], ...] = (OSError, TimeoutError, httptools.HttpParserError)
    return await _drive(
        total, concurrency, deadline_s, request_timeout_s, exchange_for_task, errors, close_all
    )
