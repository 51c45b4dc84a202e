"""Terminal sessions: a persistent shell inside a running sandbox, fed line by line.

A session is `/bin/sh` run by the sandbox's backend exactly as its commands are (same
namespaces, user, limits and environment), keyed by the client's session id within one
sandbox. Each command is written to the shell's stdin; what the shell writes to stdout and
stderr is read continuously and published as `TerminalOutput` events, in chunks of at most
`chunk_bytes`. There are pipes, not a pseudo-terminal: no prompt and no line editing, which is
what an API client sending whole command lines needs.

Nothing a session started outlives it: closing one kills its process group, and the
backend's namespaces take everything inside with them (bubblewrap's init dies with its
parent, and a dying PID namespace kills all of its processes); what is left is killed by pid
and awaited. Sessions close when their shell exits, when idle for `idle_s`, when their
sandbox stops (a stop hook) and when the platform stops.

Sessions live in this process: behind several replicas a client's commands must reach the
replica that holds its session (sticky sessions), or a fresh shell is started.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import re
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import psutil

from menagerie.core.clock import utcnow
from menagerie.core.errors import Conflict, Invalid, LimitReached, NotFound, Unavailable
from menagerie.core.events import EventBus
from menagerie.core.identity.models import Principal
from menagerie.core.processes import signal_group
from menagerie.core.sandboxes.backends.launcher import TOOL_ENV
from menagerie.core.sandboxes.events import TerminalOutput
from menagerie.core.sandboxes.service import SandboxService

log = logging.getLogger(__name__)

SHELL = ["/bin/sh"]
SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")


@dataclass(frozen=True, slots=True)
class TerminalSettings:
    max_sessions: int = 5  # per sandbox: each is a shell and whatever it runs
    idle_s: float = 30 * 60  # no input and no output for this long closes a session
    chunk_bytes: int = 4096  # the most output one event carries
    # output beyond this rate waits in the pipe (the command blocks on its writes) rather
    # than flooding the bus and every client with events
    output_bytes_per_s: int = 256 * 1024
    max_command: int = 8192
    write_timeout_s: float = 5.0  # a shell that stops reading its input is busy
    close_wait_s: float = 5.0  # for killed processes to be gone


@dataclass(eq=False)
class _Session:
    tenant_id: str
    owner_id: str
    sandbox_id: str
    session_id: str
    process: asyncio.subprocess.Process
    last_active: float = field(default_factory=time.monotonic)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closing: bool = False
    # output metering: bytes sent in the current one-second window
    window_start: float = field(default_factory=time.monotonic)
    window_bytes: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.sandbox_id, self.session_id)

    @property
    def alive(self) -> bool:
        return not self.closing and self.process.returncode is None


class Terminals:
    def __init__(
        self,
        sandboxes: SandboxService,
        events: EventBus,
        settings: TerminalSettings | None = None,
    ) -> None:
        self._sandboxes = sandboxes
        self._events = events
        self.settings = settings or TerminalSettings()
        self._sessions: dict[tuple[str, str], _Session] = {}
        # creating and closing sessions take turns: a sandbox stopping while one of its
        # sessions is being spawned must not miss it
        self._lock = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None
        sandboxes.on_stop(self.close_sandbox)

    # --- what callers do ---------------------------------------------------------------------

    async def send(
        self,
        principal: Principal,
        sandbox_id: str,
        session_id: str,
        command: str,
        *,
        kinds: Iterable[str] | None = None,
    ) -> None:
        """Write one command line to the session's shell, starting the shell on first use.

        `kinds`: the sandbox kinds the caller speaks for (PodPlay: its workspace types);
        another kind's sandbox is not found.
        """
        self._check(session_id, command)
        sandbox = await self._sandboxes.get(principal, sandbox_id)
        if kinds is not None and sandbox.kind not in set(kinds):
            raise NotFound(f"sandbox {sandbox_id} not found", reason="SANDBOX_NOT_FOUND")
        if sandbox.status != "running":
            raise Conflict(
                f"sandbox {sandbox_id} is not running ({sandbox.status}); start it first",
                reason="INVALID_STATE",
            )
        session = await self._session(principal, sandbox_id, session_id)
        await self._write(session, command)
        await self._sandboxes.touch(principal.tenant_id, sandbox_id)

    def count(self, sandbox_id: str) -> int:
        return sum(1 for s in self._sessions.values() if s.sandbox_id == sandbox_id)

    async def close(self, sandbox_id: str, session_id: str, reason: str) -> None:
        async with self._lock:
            session = self._sessions.pop((sandbox_id, session_id), None)
        if session is not None:
            await self._close(session, reason)

    async def close_sandbox(self, sandbox_id: str) -> None:
        """Every session of a sandbox (its stop hook, and after a delete)."""
        async with self._lock:
            closing = [s for s in self._sessions.values() if s.sandbox_id == sandbox_id]
            for session in closing:
                del self._sessions[session.key]
        await self._close_all(closing, "terminal closed: the workspace stopped")

    async def stop(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        async with self._lock:
            closing, self._sessions = list(self._sessions.values()), {}
        await self._close_all(closing, "terminal closed: the server is stopping")

    # --- sessions ----------------------------------------------------------------------------

    def _check(self, session_id: object, command: object) -> None:
        if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
            raise Invalid(
                "session_id must be 1 to 128 letters, digits, '_', '.', ':' or '-'",
                field="session_id",
                received=session_id if isinstance(session_id, str) else None,
                expected="an id such as term_xyz789",
                missing=session_id is None,
            )
        limit = self.settings.max_command
        if not isinstance(command, str) or len(command) > limit or "\x00" in command:
            raise Invalid(
                f"command must be text of at most {limit} characters",
                field="command",
                received=None,
                expected="a command line",
                missing=command is None,
            )

    async def _session(self, principal: Principal, sandbox_id: str, session_id: str) -> _Session:
        async with self._lock:
            key = (sandbox_id, session_id)
            found = self._sessions.get(key)
            if found is not None and found.alive:
                if (found.tenant_id, found.owner_id) != (principal.tenant_id, principal.user_id):
                    raise NotFound(f"sandbox {sandbox_id} not found", reason="SANDBOX_NOT_FOUND")
                return found
            if found is not None:  # its shell exited: the id starts a fresh one
                del self._sessions[key]
            if self.count(sandbox_id) >= self.settings.max_sessions:
                raise LimitReached(
                    f"a workspace holds at most {self.settings.max_sessions} terminal sessions",
                    reason="TERMINAL_SESSION_LIMIT",
                    details={"limit": self.settings.max_sessions},
                )
            # raises unless the sandbox runs (it may have begun stopping meanwhile)
            request = await self._sandboxes.terminal_request(principal, sandbox_id, SHELL)
            try:
                process = await asyncio.create_subprocess_exec(
                    *self._sandboxes.backend.argv(request),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    cwd="/",
                    env=TOOL_ENV,
                    start_new_session=True,  # its own group: one signal reaches all of it
                )
            except (OSError, ValueError, RuntimeError) as error:
                log.warning("terminal in sandbox %s could not start: %s", sandbox_id, error)
                raise Unavailable(
                    f"the terminal could not start: {error}",
                    service="sandbox",
                    reason="TERMINAL_START_FAILED",
                ) from None
            session = _Session(
                principal.tenant_id, principal.user_id, sandbox_id, session_id, process
            )
            assert process.stdout is not None
            assert process.stderr is not None
            session.tasks = [
                asyncio.create_task(self._pump(session, process.stdout, "stdout")),
                asyncio.create_task(self._pump(session, process.stderr, "stderr")),
            ]
            session.tasks.append(asyncio.create_task(self._watch(session)))
            self._sessions[key] = session
            if self._reaper is None:
                self._reaper = asyncio.create_task(self._reap_idle(), name="terminal-reaper")
            log.info("terminal %s opened in sandbox %s", session_id, sandbox_id)
            return session

    async def _write(self, session: _Session, command: str) -> None:
        stdin = session.process.stdin
        assert stdin is not None
        line = command.rstrip("\n") + "\n"
        async with session.write_lock:
            try:
                stdin.write(line.encode())
                await asyncio.wait_for(stdin.drain(), self.settings.write_timeout_s)
            except TimeoutError:
                raise Conflict(
                    "the terminal is not reading its input (a command is still running)",
                    reason="TERMINAL_BUSY",
                ) from None
            except (BrokenPipeError, ConnectionResetError):
                raise Conflict(
                    "the terminal session has ended; send the command again to start a new one",
                    reason="TERMINAL_ENDED",
                ) from None
        session.last_active = time.monotonic()

    async def _pump(
        self, session: _Session, stream: asyncio.StreamReader, output_type: str
    ) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while chunk := await stream.read(self.settings.chunk_bytes):
            session.last_active = time.monotonic()
            # a character split between two reads is decoded whole with the next one
            text = decoder.decode(chunk)
            if text:
                await self._publish(session, text, output_type)
            await self._meter(session, len(chunk))
        if tail := decoder.decode(b"", final=True):
            await self._publish(session, tail, output_type)

    async def _meter(self, session: _Session, size: int) -> None:
        now = time.monotonic()
        if now - session.window_start >= 1.0:
            session.window_start, session.window_bytes = now, 0
        session.window_bytes += size
        if session.window_bytes >= self.settings.output_bytes_per_s:
            # not reading makes the pipe fill and the command wait: backpressure, no loss
            await asyncio.sleep(max(0.0, session.window_start + 1.0 - now))

    async def _watch(self, session: _Session) -> None:
        """The shell exited by itself (`exit`, killed inside): say so and forget it."""
        code = await session.process.wait()
        if session.closing:
            return
        async with self._lock:
            if self._sessions.get(session.key) is session:
                del self._sessions[session.key]
        await self._close(session, f"terminal session ended (exit code {code})")

    async def _close(self, session: _Session, reason: str) -> None:
        if session.closing:  # set before the first await: a second close returns here
            return
        session.closing = True
        await _kill(session.process, self.settings.close_wait_s)
        current = asyncio.current_task()
        readers = [t for t in session.tasks if t is not current]
        # the readers reach the end of their pipes once every writer is gone
        _, pending = await asyncio.wait(readers, timeout=1.0) if readers else (set(), set())
        for task in pending:
            task.cancel()
        await self._publish(session, reason, "system")
        log.info("terminal %s of sandbox %s: %s", session.session_id, session.sandbox_id, reason)

    async def _close_all(self, sessions: list[_Session], reason: str) -> None:
        if sessions:
            await asyncio.gather(*(self._close(s, reason) for s in sessions))

    async def _reap_idle(self) -> None:
        period = max(0.05, min(self.settings.idle_s / 4, 30.0))
        while True:
            await asyncio.sleep(period)
            cutoff = time.monotonic() - self.settings.idle_s
            async with self._lock:
                idle = [s for s in self._sessions.values() if s.last_active <= cutoff]
                for session in idle:
                    del self._sessions[session.key]
            minutes = self.settings.idle_s / 60
            await self._close_all(idle, f"terminal closed after {minutes:g} minutes idle")

    async def _publish(self, session: _Session, output: str, output_type: str) -> None:
        event = TerminalOutput(
            tenant_id=session.tenant_id,
            owner_id=session.owner_id,
            sandbox_id=session.sandbox_id,
            session_id=session.session_id,
            output=output,
            output_type=output_type,
            at=utcnow(),
        )
        try:
            await self._events.publish(event.topic, event.to_payload())
        except Exception:  # a bus outage loses output, never the session
            log.exception("publishing terminal output failed")


async def _kill(process: asyncio.subprocess.Process, wait_s: float) -> None:
    """Kill the shell's group and every process below it, and wait until they are gone."""
    tree = await asyncio.to_thread(_descendants, process.pid)
    signal_group(process, signal.SIGKILL)
    for child in tree:
        # psutil checks the pid still names the same process: a reused pid is left alone
        with contextlib.suppress(psutil.Error):
            child.kill()
    await process.wait()
    deadline = time.monotonic() + wait_s
    while any(_running(child) for child in tree) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)  # the kernel takes a moment to tear a namespace down


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
