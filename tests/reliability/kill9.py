"""The pieces of the kill -9 test (test_kill9.py): a real `menagerie serve` process that is
started, SIGKILLed and restarted on the same database (forked from a zygote, this file run as
a script, that imported the server once; or the command run anew each time); the writers
that send marked writes and record which were acknowledged; and the ledger of every write.

A write's outcome is what its writer saw: `acked` (a 2xx answer arrived), `in_flight` (the
connection broke after the request went out: stored or not, nobody knows), `undelivered` (the
server was gone before a connection opened: it never saw the request) or `refused` (a non-2xx
answer, which these writes never deserve). The read-back and its checks are in the test.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from menagerie.settings import PROVIDER_KEY_VARS

MENAGERIE = shutil.which("menagerie", path=str(Path(sys.executable).parent))
MASTER_KEY = "kill9-master-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
# deadlines, not measurements: four test workers on two cores slow a start down a lot
READY_DEADLINE_S = 120.0
EXIT_DEADLINE_S = 60.0
REQUEST_TIMEOUT = httpx.Timeout(60.0, connect=10.0)

Kind = Literal["message", "memory", "podplay_memory", "turn"]
Outcome = Literal["pending", "acked", "in_flight", "undelivered", "refused"]
KINDS: tuple[Kind, ...] = ("message", "memory", "podplay_memory", "turn")
# a turn costs a model call (the offline model, no delay): kept the smallest share
WEIGHTS = (0.4, 0.2, 0.25, 0.15)
WRITERS = 4
CATEGORY = "kill9"
# at most this many writes in a round, so that each read-back fits one page of 200
MAX_WRITES_PER_ROUND = 150
MIN_ACKED_PER_ROUND = 10


def server_environment(data_dir: Path, database_url: str) -> dict[str, str]:
    """The caller's environment minus anything that configures Menagerie, plus the smallest
    server: no local model, no rate limits, the offline model answering at once."""
    provider_vars = {name for names in PROVIDER_KEY_VARS.values() for name in names}
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MENAGERIE_", "EMBLEM_")) and name not in provider_vars
    }
    env.update(
        MENAGERIE_DATA_DIR=str(data_dir),
        MENAGERIE_DATABASE_URL=database_url,
        MENAGERIE_MASTER_KEY=MASTER_KEY,
        MENAGERIE_LOCAL_MODEL="off",
        MENAGERIE_RATE_LIMITS_ENABLED="false",
        MENAGERIE_OFFLINE_TOKEN_DELAY_MS="0",
        MENAGERIE_LOG_LEVEL="WARNING",
    )
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerFailed(AssertionError):
    """The server did not start, or did not stop, as it must."""


class Server:
    """`menagerie serve` on a free loopback port; every start appends to one log file.

    With `exec_each_start`, each start runs the `menagerie` command anew. Otherwise (the
    default) each start is forked from a zygote, a process of this file that imported the
    server once: the child runs the same `menagerie serve` entry point, and a restart costs
    no import (four seconds of CPU on two cores, most of a round). Either way each start is
    a process of its own that opens the database afresh, and is killed outright."""

    def __init__(self, env: dict[str, str], cwd: Path, *, exec_each_start: bool) -> None:
        assert MENAGERIE is not None, "the menagerie command is not installed"
        self._env = env
        self._cwd = cwd
        self._exec = exec_each_start
        self.log = cwd / "serve.log"
        self.base_url = ""
        self.starts = 0
        self.seconds_starting = 0.0  # from spawn to the first answer, over every start
        self._process: asyncio.subprocess.Process | None = None  # exec: the server
        self._zygote: asyncio.subprocess.Process | None = None  # fork: the servers' parent
        self._pid = 0  # fork: the running server
        self._exit: asyncio.Task[int] | None = None  # its exit status, once it exits

    @property
    def running(self) -> bool:
        return self._exit is not None and not self._exit.done()

    def log_tail(self, chars: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-chars:]

    async def start(self) -> None:
        """Start and wait until it answers; a port taken in the meantime is retried."""
        began = asyncio.get_running_loop().time()
        try:
            for _ in range(3):
                offset = self.log.stat().st_size if self.log.exists() else 0
                port = _free_port()
                self.base_url = f"http://127.0.0.1:{port}"
                self.starts += 1
                await (self._spawn(port) if self._exec else self._fork(port))
                if await self._ready():
                    return
                with self.log.open("rb") as log:
                    log.seek(offset)
                    output = log.read().decode(errors="replace")
                if "address already in use" not in output.lower():
                    raise ServerFailed(f"the server exited at start:\n{self.log_tail()}")
            raise ServerFailed(f"no free port in three tries:\n{self.log_tail()}")
        finally:
            self.seconds_starting += asyncio.get_running_loop().time() - began

    async def _spawn(self, port: int) -> None:
        with self.log.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *(str(MENAGERIE), "serve", "--host", "127.0.0.1", "--port", str(port)),
                env=self._env,
                cwd=self._cwd,  # away from the repository, so that no .env is read
                stdout=log,
                stderr=log,
            )
        self._exit = asyncio.create_task(self._process.wait())

    async def _fork(self, port: int) -> None:
        if self._zygote is None:
            with self.log.open("ab") as log:
                self._zygote = await asyncio.create_subprocess_exec(
                    *(sys.executable, __file__),
                    env=self._env,
                    cwd=self._cwd,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=log,
                )
            assert await self._line(READY_DEADLINE_S) == "ready", self.log_tail()
        assert self._zygote.stdin is not None
        self._zygote.stdin.write(f"{port} {self.log}\n".encode())
        await self._zygote.stdin.drain()
        self._pid = int((await self._line(EXIT_DEADLINE_S)).removeprefix("pid "))
        self._exit = asyncio.create_task(self._exited())

    async def _line(self, within_s: float | None) -> str:
        assert self._zygote is not None
        assert self._zygote.stdout is not None
        line = await asyncio.wait_for(self._zygote.stdout.readline(), within_s)
        if not line:
            raise ServerFailed(f"the zygote exited:\n{self.log_tail()}")
        return line.decode().strip()

    async def _exited(self) -> int:
        return int((await self._line(None)).removeprefix("exit "))

    async def _ready(self) -> bool:
        """True once the cheapest health route answers; False if the process exited."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_DEADLINE_S
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5.0) as http:
            while self.running:
                try:
                    if (await http.get("/gary/health/live")).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                if loop.time() > deadline:
                    raise ServerFailed(f"the server did not answer in time:\n{self.log_tail()}")
                await asyncio.sleep(0.05)
        return False

    async def _signal(self, signum: int) -> int:
        """Send `signum` (if it still runs) and answer its exit status once it exited."""
        assert self._exit is not None
        if self.running:
            if self._process is not None:
                self._process.send_signal(signum)
            else:
                os.kill(self._pid, signum)
        return await asyncio.wait_for(asyncio.shield(self._exit), EXIT_DEADLINE_S)

    async def kill(self) -> None:
        """SIGKILL: no shutdown of any kind, as when the machine's OOM killer strikes."""
        code = await self._signal(signal.SIGKILL)
        if code != -signal.SIGKILL:
            raise ServerFailed(f"the server exited ({code}) before the kill:\n{self.log_tail()}")

    async def stop(self) -> int:
        """SIGTERM and wait: the graceful shutdown."""
        try:
            return await self._signal(signal.SIGTERM)
        except TimeoutError:
            await self.kill()
            raise ServerFailed(f"the server ignored SIGTERM:\n{self.log_tail()}") from None

    async def close(self) -> None:
        """Kill whatever still runs: the server, then the zygote."""
        if self.running:
            await self._signal(signal.SIGKILL)
        if self._zygote is not None and self._zygote.returncode is None:
            self._zygote.kill()
            await self._zygote.wait()


def _zygote() -> None:
    """`python kill9.py`: import the server once, then per line `PORT LOG` read, fork a child
    that runs `menagerie serve` into LOG, print its pid, wait for it, print its exit status."""
    import ctypes

    import menagerie.app  # noqa: F401  # what the child's uvicorn imports by name
    from menagerie import cli

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: gone with the test that started it
    print("ready", flush=True)
    while line := sys.stdin.readline():
        port, log = line.split(maxsplit=1)
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                libc.prctl(1, signal.SIGKILL)  # and the server with its zygote
                output = os.open(log.strip(), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                os.dup2(output, 1)
                os.dup2(output, 2)
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                sys.argv = ["menagerie", "serve", "--host", "127.0.0.1", "--port", port]
                cli.main()
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else int(bool(exit_.code))
            finally:
                os._exit(code)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)


@dataclass
class Write:
    round: int
    kind: Kind
    marker: str
    outcome: Outcome = "pending"
    detail: str = ""


@dataclass
class Round:
    """One round's scopes: a chat session for messages and memories, one for turns."""

    index: int
    user: str
    session_id: str
    turn_user: str
    turn_session_id: str

    @property
    def prefix(self) -> str:
        return f"k9-{self.index:04d}-"


@dataclass
class Ledger:
    rounds: list[Round] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)

    def of(self, round_: Round) -> list[Write]:
        return [write for write in self.writes if write.round == round_.index]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for write in self.writes if write.outcome == outcome)


async def open_round(http: httpx.AsyncClient, index: int) -> Round:
    """The round's two MADACE sessions, each for a user of its own (so that PodPlay's memory
    list of the round's user holds only this round's writes)."""
    user, turn_user = f"kill9-u{index}", f"kill9-t{index}"
    sessions = []
    for owner, agent in ((user, "chat-assistant-001"), (turn_user, "mama-bear")):
        created = await http.post(
            "/madace/api/v3/chat/sessions", json={"userId": owner, "agentId": agent}
        )
        assert created.status_code == 201, created.text
        sessions.append(created.json()["session"]["id"])
    return Round(index, user, sessions[0], turn_user, sessions[1])


def text_of(marker: str) -> str:
    return f"kill9 write {marker}"


def request_for(round_: Round, kind: Kind, marker: str) -> tuple[str, dict[str, object]]:
    """The route and body of one write: each stores without a model call but the turn."""
    if kind == "message":  # MADACE: append a message to a session
        return f"/madace/api/v3/chat/sessions/{round_.session_id}/messages", {
            "role": "user",
            "content": text_of(marker),
        }
    if kind == "memory":  # MADACE: a session's memory, upserted by category and key
        return f"/madace/api/v3/chat/sessions/{round_.session_id}/memory", {
            "category": CATEGORY,
            "key": marker,
            "value": text_of(marker),
        }
    if kind == "podplay_memory":  # PodPlay: a user's memory, no key
        return "/podplay/api/chat/store-memory", {
            "user_id": round_.user,
            "category": CATEGORY,
            "content": text_of(marker),
        }
    # PodPlay: a whole chat turn (question stored, offline model's answer stored after it)
    return "/podplay/api/chat/mama-bear", {
        "user_id": round_.turn_user,
        "session_id": round_.turn_session_id,
        "message": text_of(marker),
    }


class Writers:
    """`WRITERS` concurrent writers for one round; `killed` is set once `kill_after` writes
    were acknowledged, and the writers stop when their connection breaks."""

    def __init__(
        self, http: httpx.AsyncClient, ledger: Ledger, round_: Round, rng: random.Random
    ) -> None:
        self._http = http
        self._ledger = ledger
        self._round = round_
        self._rng = rng
        # at least 10 a round: 100 rounds acknowledge at least 1,000 writes
        self.kill_after = rng.randint(MIN_ACKED_PER_ROUND, 30)
        self.acked = 0
        self.sent = 0
        self.time_to_kill = asyncio.Event()
        self.stop = asyncio.Event()

    async def run(self) -> None:
        await asyncio.gather(*(self._writer(n) for n in range(WRITERS)))

    async def _writer(self, writer: int) -> None:
        for seq in range(MAX_WRITES_PER_ROUND):
            if self.stop.is_set() or self.sent >= MAX_WRITES_PER_ROUND:
                return
            kind = self._rng.choices(KINDS, WEIGHTS)[0]
            write = Write(self._round.index, kind, f"{self._round.prefix}{writer}-{seq:03d}")
            self._ledger.writes.append(write)
            self.sent += 1
            path, body = request_for(self._round, kind, write.marker)
            try:
                response = await self._http.post(path, json=body)
            except httpx.ConnectError as exc:  # no connection: the request never left
                write.outcome, write.detail = "undelivered", type(exc).__name__
                return
            except httpx.TransportError as exc:  # sent, then the connection broke
                write.outcome, write.detail = "in_flight", type(exc).__name__
                return
            if response.is_success:
                write.outcome = "acked"
                self.acked += 1
                if self.acked >= self.kill_after:
                    self.time_to_kill.set()
            else:
                write.outcome = "refused"
                write.detail = f"{response.status_code} {response.text[:300]}"
        self.time_to_kill.set()  # the round's cap was reached before the target


if __name__ == "__main__":
    _zygote()
