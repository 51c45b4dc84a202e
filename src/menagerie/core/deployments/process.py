"""One deployed agent's process, supervised: started on a listening socket this server holds,
its output appended to a log file, started again with backoff whenever it ends, and stopped
as a process group.

The server binds the port and hands the socket to each process it starts (as a file
descriptor), so the deployment keeps one address across restarts and no other program can
take the port between two runs. One owner task starts, watches and stops the process, so
that its state never changes under two hands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from menagerie.core.clock import monotonic, utcnow
from menagerie.core.deployments.models import Probe
from menagerie.core.processes import signal_group, stop_group

log = logging.getLogger(__name__)

MAX_LOG_BYTES = 5 * 1024 * 1024  # past this, the log moves to `<name>.1` at the next start
PROBE_TIMEOUT_S = 2.0

ProcessState = Literal["starting", "healthy", "exited"]


@dataclass(frozen=True, slots=True)
class Launch:
    """How to start the process: its command and environment, and where its output goes.
    `{fd}` in the command is the listening socket's file descriptor in the process."""

    command: list[str]
    environment: dict[str, str]
    log_path: Path


@dataclass(frozen=True, slots=True)
class ProcessEvent:
    state: ProcessState
    pid: int | None
    restarts: int
    detail: str  # in words: what happened, for the deployment's message
    retry_in_s: float | None = None  # after an exit: when it starts again


Listener = Callable[[ProcessEvent], Awaitable[None]]


def listen_on_loopback(port: int | None = None, host: str = "127.0.0.1") -> socket.socket:
    """A listening TCP socket on loopback: `port` when it is free, else any free port."""
    for candidate in ([port] if port else []) + [0]:
        # TCP named, so that asyncio turns Nagle off on the connections it accepts
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError:
            sock.close()
            continue
        sock.listen(128)
        return sock
    raise OSError("no free port on loopback")


async def probe_url(base_url: str, *, pid: int | None = None, restarts: int = 0) -> Probe:
    """Ask an agent's `/health` now."""
    started = monotonic()
    try:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S, trust_env=False) as client:
            response = await client.get(f"{base_url.rstrip('/')}/health")
    except httpx.HTTPError as exc:
        return Probe(
            "unreachable",
            utcnow(),
            None,
            pid,
            restarts,
            None,
            f"GET /health failed: {type(exc).__name__}",
        )
    elapsed = round((monotonic() - started) * 1000, 2)
    healthy = response.status_code == 200
    return Probe(
        "healthy" if healthy else "unhealthy",
        utcnow(),
        elapsed,
        pid,
        restarts,
        None,
        f"GET /health answered {response.status_code}",
    )


class AgentProcess:
    def __init__(
        self,
        name: str,
        launch: Launch,
        sock: socket.socket,
        *,
        on_event: Listener,
        start_timeout_s: float = 60.0,
        stop_grace_s: float = 10.0,
        backoff_s: float = 0.25,
        max_backoff_s: float = 30.0,
        steady_s: float = 30.0,
        health_interval_s: float = 0.1,
    ) -> None:
        self.name = name
        self.launch = launch
        self.sock = sock
        self.on_event = on_event
        self.start_timeout_s = start_timeout_s
        self.stop_grace_s = stop_grace_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        # a process that stayed healthy this long starts its next backoff from the beginning
        self.steady_s = steady_s
        self.health_interval_s = health_interval_s
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.last_exit: str | None = None
        self.healthy = asyncio.Event()
        self.start_duration_s: float | None = None  # how long the latest start took
        self._stopping = asyncio.Event()
        self._owner: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        process = self.process
        return process.pid if process is not None and process.returncode is None else None

    def start(self) -> None:
        if self._owner is None:
            self._owner = asyncio.create_task(self._own(), name=f"deployment-{self.name}")

    async def stop(self) -> None:
        """End the process (and anything it forked) and the supervision; close the socket."""
        self._stopping.set()
        owner, self._owner = self._owner, None
        if owner is not None:
            try:
                await asyncio.wait_for(asyncio.shield(owner), self.stop_grace_s + 5)
            except TimeoutError:
                owner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await owner
        process = self.process
        if process is not None:  # cancelled mid-start: still no process may outlive us
            await stop_group(process, 0)
        self.sock.close()

    async def probe(self) -> Probe:
        if self._stopping.is_set():
            return Probe("stopped", utcnow(), None, None, self.restarts, self.last_exit, "stopped")
        pid = self.pid
        if pid is None:
            # the server holds the socket, so a connection would wait, not be refused
            return Probe(
                "unreachable",
                utcnow(),
                None,
                None,
                self.restarts,
                self.last_exit,
                "no process runs now: the supervisor is starting it again",
            )
        found = await probe_url(self.url, pid=pid, restarts=self.restarts)
        return Probe(
            found.status,
            found.checked_at,
            found.response_ms,
            pid,
            self.restarts,
            self.last_exit,
            found.detail,
        )

    # -- the owner task -----------------------------------------------------------------------

    async def _own(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            began = monotonic()
            try:
                code = await self._run_once()
            except Exception as exc:  # a start that failed is retried like an exit
                log.warning("deployment %s: could not start: %s", self.name, exc)
                code, self.last_exit = None, f"could not start: {exc}"
            if self._stopping.is_set():
                break
            if monotonic() - began >= self.steady_s:
                attempt = 0
            delay = min(self.max_backoff_s, self.backoff_s * 2**attempt)
            attempt += 1
            if code is not None:
                self.last_exit = _exit_words(code)
            log.warning(
                "deployment %s: %s; starting again in %gs", self.name, self.last_exit, delay
            )
            await self._emit("exited", None, self.last_exit or "it ended", retry_in_s=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if not self._stopping.is_set():
                self.restarts += 1

    async def _run_once(self) -> int | None:
        """One process from start to end; its exit code (None: ended by us, the reason in
        `last_exit` when it was not a stop)."""
        process = await self._spawn()
        self.process = process
        started = monotonic()
        await self._emit("starting", process.pid, f"agent process pid {process.pid} started")
        stopping = asyncio.ensure_future(self._stopping.wait())
        exited = asyncio.ensure_future(process.wait())
        try:
            if await self._wait_healthy(process, stopping):
                self.start_duration_s = monotonic() - started
                await self._emit("healthy", process.pid, f"agent process pid {process.pid} healthy")
                self.healthy.set()  # after the listener: a waiter reads the state it recorded
            elif process.returncode is None and not self._stopping.is_set():
                await stop_group(process, self.stop_grace_s)
                self.last_exit = f"not healthy within {self.start_timeout_s:g}s of starting"
                return None  # the reason is the timeout, not the signal that ended it
            await asyncio.wait({stopping, exited}, return_when=asyncio.FIRST_COMPLETED)
            if self._stopping.is_set():
                await stop_group(process, self.stop_grace_s)
                return None
            signal_group(process, signal.SIGKILL)  # what it forked goes with it
            return process.returncode
        finally:
            self.healthy.clear()
            for waiter in (stopping, exited):
                waiter.cancel()
            if process.returncode is not None:
                self.process = None

    async def _spawn(self) -> asyncio.subprocess.Process:
        path = self.launch.log_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size > MAX_LOG_BYTES:
                path.replace(path.with_name(path.name + ".1"))
        fd = self.sock.fileno()
        command = [part.replace("{fd}", str(fd)) for part in self.launch.command]
        with path.open("ab") as output:
            output.write(
                f"--- {utcnow().isoformat()} starting (restart {self.restarts})\n".encode()
            )
            output.flush()
            return await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                env=self.launch.environment,
                pass_fds=(fd,),
                start_new_session=True,  # its own process group, stopped as one
            )

    async def _wait_healthy(
        self, process: asyncio.subprocess.Process, stopping: asyncio.Future[bool]
    ) -> bool:
        deadline = monotonic() + self.start_timeout_s
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S, trust_env=False) as client:
            while not stopping.done() and process.returncode is None:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return True
                if monotonic() >= deadline:
                    return False
                await asyncio.sleep(self.health_interval_s)
        return False

    async def _emit(
        self, state: ProcessState, pid: int | None, detail: str, *, retry_in_s: float | None = None
    ) -> None:
        try:
            await self.on_event(ProcessEvent(state, pid, self.restarts, detail, retry_in_s))
        except Exception:  # the listener's trouble never stops the supervision
            log.exception("deployment %s: a listener failed on %s", self.name, state)


def _exit_words(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"process ended by {signal.Signals(-code).name}"
        return f"process ended by signal {-code}"
    return f"process exited with code {code}"


def process_command_line(pid: int) -> list[str] | None:
    """A running process's command line, or None when it is gone (or not ours to read)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def end_leftover(pid: int, module: str, tail: list[str]) -> bool:
    """SIGKILL the group of a process an earlier server started, when its command line is
    still the one we gave it (a pid reused by another program is left alone)."""
    found = process_command_line(pid)
    if found is None or module not in found or found[-len(tail) :] != tail:
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    return True
