"""Menagerie as a scaled-out deployment runs it, for the scale-out tests: `menagerie serve`
replicas and `menagerie worker` processes, each a real process with a data directory of its
own, sharing one PostgreSQL database, one Redis (event bus, socket.io, rate limits) and one
broker queue, and the secrets every replica must agree on (docs/deploy.md)."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from cryptography.fernet import Fernet

from menagerie.core.ids import new_id
from menagerie.settings import PROVIDER_KEY_VARS
from tests.utils.http import bearer
from tests.utils.socket_events import EventClient

# deadlines, not measurements: four test workers on two cores slow every start and stop
START_DEADLINE_S = 180.0
STOP_DEADLINE_S = 30.0
DEADLINE_S = 60.0  # anything else awaited
POLL_S = 0.1

Check = Callable[[], Any]  # a value, or an awaitable of one


async def until(what: str, check: Check, deadline_s: float = DEADLINE_S) -> Any:
    """Poll `check` until it gives something truthy; fail naming `what` past the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        found = check()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(POLL_S)


def heard(client: EventClient, name: str, **match: Any) -> list[Any]:
    """Every `name` event `client` heard so far whose payload has the `match` values."""
    return [
        data
        for event, data in client.heard
        if event == name and all(data.get(k) == v for k, v in match.items())
    ]


async def connected(url: str, token: str, opened: list[EventClient]) -> EventClient:
    """A socket.io client of `url`'s root (PodPlay), once greeted; added to `opened`, which
    the caller disconnects."""
    client = EventClient()
    opened.append(client)
    await client.sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=30)
    await until("the connected event", lambda: heard(client, "connected"))
    return client


async def answer_heard_once(
    first: EventClient, second: EventClient, session: str, stranger: EventClient | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """PodPlay's chat over socket.io, one user's two clients (each on its own process): the
    first's turn in `session` puts it in the session's room; the second's answer then
    reaches the first exactly once. A `stranger` (another user) naming the same session id
    may hear its typing, never its answers. Returns (the first's answer, the second's)."""
    await first.sio.emit("mama_bear_message", {"message": "first turn", "session_id": session})
    mine = (await until("the first answer", lambda: heard(first, "mama_bear_response")))[0]
    assert mine["success"] is True, mine
    assert mine["session_id"] == session
    if stranger is not None:
        await stranger.sio.emit("typing_indicator", {"session_id": session, "typing": False})
    await second.sio.emit("mama_bear_message", {"message": "second turn", "session_id": session})
    # the first answer may reach the second client too: relayed between processes, it can
    # arrive after the second client joined the session's room
    answer = (
        await until(
            "the second answer",
            lambda: [
                data
                for data in heard(second, "mama_bear_response")
                if data.get("message_id") != mine["message_id"]
            ],
        )
    )[0]
    assert answer["success"] is True, answer
    assert "second turn" in answer["response"]
    relayed = await until(
        "the second answer on the first client",
        lambda: heard(first, "mama_bear_response", message_id=answer["message_id"]),
    )
    assert relayed[0] == answer
    # a marker sent after: everything published before it has reached the first client
    await second.sio.emit("typing_indicator", {"session_id": session, "typing": True})
    await until("the marker", lambda: heard(first, "typing_indicator", typing=True))
    if stranger is not None:
        await until("the marker too", lambda: heard(stranger, "typing_indicator", typing=True))
        assert heard(stranger, "mama_bear_response") == []
    for client in (first, second):
        assert len(heard(client, "mama_bear_response", message_id=answer["message_id"])) == 1
    assert len(heard(first, "mama_bear_response", message_id=mine["message_id"])) == 1
    return mine, answer


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Shared:
    """What every process of one deployment is configured with alike. The tenant, queue and
    master key are this deployment's own, so that tests sharing the Redis server (whose
    pub/sub channels no database number separates) never hear each other."""

    database_url: str
    redis_url: str
    queue: str = field(default_factory=lambda: new_id("scale", 10))
    tenant: str = field(default_factory=lambda: new_id("scale", 10))
    master_key: str = field(default_factory=lambda: new_id("master", 32))
    jwt_secret: str = field(default_factory=lambda: new_id("jwt", 48))
    encryption_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    settings: dict[str, str] = field(default_factory=dict)  # more MENAGERIE_* for everyone

    def environment(self, data_dir: Path, **extra: str) -> dict[str, str]:
        """The caller's environment less anything that configures Menagerie, plus ours."""
        provider_vars = {name for names in PROVIDER_KEY_VARS.values() for name in names}
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("MENAGERIE_", "EMBLEM_")) and name not in provider_vars
        }
        env.update(
            MENAGERIE_DATA_DIR=str(data_dir),
            MENAGERIE_DATABASE_URL=self.database_url,
            MENAGERIE_REDIS_URL=self.redis_url,
            MENAGERIE_BROKER_URL=self.redis_url,
            MENAGERIE_BROKER_QUEUE=self.queue,
            MENAGERIE_SERVER_WORKER="false",  # the workers execute the runs
            MENAGERIE_DEFAULT_TENANT=self.tenant,
            MENAGERIE_MASTER_KEY=self.master_key,
            MENAGERIE_JWT_SECRET=self.jwt_secret,
            MENAGERIE_ENCRYPTION_KEY=self.encryption_key,
            MENAGERIE_LOCAL_MODEL="off",
            MENAGERIE_LOG_LEVEL="WARNING",
            # a replica is one process (killed like a machine): not one worker per core
            MENAGERIE_WORKERS="1",
        )
        env.update(self.settings)
        env.update(extra)
        # an empty value leaves a variable unset (MENAGERIE_WORKERS="": serve's default)
        return {name: value for name, value in env.items() if value != ""}


@dataclass
class Process:
    """One `menagerie` process; its stdout and stderr go to `log`."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self, tail: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} (pid {self.pid}) ---\n{text[-tail:]}"

    def children_running(self, marker: str) -> list[psutil.Process]:
        """This process's descendants whose command line mentions `marker`."""
        found = []
        for child in psutil.Process(self.pid).children(recursive=True):
            try:
                if marker in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.Error:  # it ended while being looked at
                continue
        return found

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind, as when a machine dies."""
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(STOP_DEADLINE_S)

    def stop(self) -> int:
        """SIGTERM, then SIGKILL past the deadline; the exit status."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@dataclass
class Replica(Process):
    port: int = 0
    files: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()  # more `menagerie serve` options (`--workers 2`)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Deployment:
    """Replicas and workers of one `Shared` configuration, started in `base`; `close` stops
    every process it started."""

    def __init__(self, shared: Shared, base: Path) -> None:
        self.shared = shared
        self._base = base
        self.replicas: dict[str, Replica] = {}
        self.workers: dict[str, Process] = {}

    def _spawn(
        self, name: str, args: list[str], files: Mapping[str, str], extra: Mapping[str, str]
    ) -> tuple[subprocess.Popen[bytes], Path]:
        home = self._base / name
        (home / "data").mkdir(parents=True, exist_ok=True)
        for relative, text in files.items():  # what an operator puts in the data directory
            (home / "data" / relative).write_text(text)
        log = home / "output.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "menagerie.cli", *args],
                env=self.shared.environment(home / "data", **extra),
                cwd=home,  # away from the repository, so that no .env file there is read
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return process, log

    def start_replica(
        self,
        name: str,
        *,
        files: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        **extra: str,
    ) -> Replica:
        """`menagerie serve` on a free port, with `args`; `files` go into its data directory
        first, `extra` into its environment."""
        port = free_port()
        command = ["serve", "--port", str(port), *args]
        process, log = self._spawn(name, command, files or {}, extra)
        self.replicas[name] = Replica(name, process, log, port, files or {}, extra, args)
        return self.replicas[name]

    def _respawn(self, replica: Replica) -> None:
        """The same replica again on another port: its free port was taken by another
        process (tests side by side) between being chosen and bound."""
        replica.port = free_port()
        args = ["serve", "--port", str(replica.port), *replica.args]
        replica.process, replica.log = self._spawn(replica.name, args, replica.files, replica.extra)

    def start_worker(self, name: str, *, concurrency: int = 2, **extra: str) -> Process:
        args = ["worker", "--concurrency", str(concurrency)]
        process, log = self._spawn(name, args, {}, extra)
        self.workers[name] = Process(name, process, log)
        return self.workers[name]

    async def ready(self, *replicas: Replica) -> None:
        """Wait until every replica answers as this deployment's (started, migrated; our
        master key accepted, so never another test's server that took the port)."""
        deadline = time.monotonic() + START_DEADLINE_S
        async with httpx.AsyncClient(timeout=5, headers=bearer(self.shared.master_key)) as http:
            for replica in replicas:
                while not await self._answers(http, replica):
                    if not replica.alive:
                        if "address already in use" not in replica.output():
                            raise AssertionError(f"{replica.name} exited\n{self.output()}")
                        self._respawn(replica)
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{replica.name} did not start\n{self.output()}")
                    await asyncio.sleep(0.2)
        for process in self.workers.values():
            assert process.alive, f"{process.name} exited\n{self.output()}"

    @staticmethod
    async def _answers(http: httpx.AsyncClient, replica: Replica) -> bool:
        if not replica.alive:
            return False
        try:
            validated = await http.get(f"{replica.url}/gary/api/auth/validate")
        except httpx.TransportError:
            return False
        return validated.status_code == 200 and validated.json().get("valid") is True

    async def newest_run(self, subject_id: str) -> tuple[str, str | None] | None:
        """The status and worker id of the newest run of a task, read from the database."""
        url = self.shared.database_url.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(url)
        try:
            row = await conn.fetchrow(
                "SELECT status, worker_id FROM runs WHERE subject_id = $1 "
                "ORDER BY created_at DESC LIMIT 1",
                subject_id,
            )
        finally:
            await conn.close()
        return None if row is None else (row["status"], row["worker_id"])

    async def running_on(self, subject_id: str) -> str | None:
        """The worker id running the task's newest run; None while it runs nowhere."""
        run = await self.newest_run(subject_id)
        return run[1] if run is not None and run[0] == "running" else None

    def worker_of(self, worker_id: str) -> str:
        """The name of the worker process a run's worker id (`host:pid:…`) names."""
        pid = int(worker_id.split(":")[1])
        [name] = [name for name, process in self.workers.items() if process.pid == pid]
        return name

    def output(self) -> str:
        """Every process's log tail, for a failing assertion's message."""
        processes: list[Process] = [*self.replicas.values(), *self.workers.values()]
        return "\n".join(process.output() for process in processes)

    def close(self) -> None:
        """SIGTERM to everything still running, all at once, then wait for each."""
        processes: list[Process] = [*self.replicas.values(), *self.workers.values()]
        for process in processes:
            if process.alive:
                process.process.send_signal(signal.SIGTERM)
        for process in processes:
            process.stop()


# -- Crazy Gary's tasks, through any replica ----------------------------------------------


async def create_task(http: httpx.AsyncClient, replica: Replica, token: str, text: str) -> str:
    """A task through `replica` (its text as title and description); its id."""
    created = await http.post(
        f"{replica.url}/gary/api/tasks",
        json={"title": text[:40], "description": text, "priority": "high"},
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    task_id: str = created.json()["task_id"]
    return task_id


async def read_task(http: httpx.AsyncClient, replica: Replica, token: str, task_id: str) -> Any:
    """The task as `replica` reads it."""
    read = await http.get(f"{replica.url}/gary/api/tasks/{task_id}", headers=bearer(token))
    assert read.status_code == 200, read.text
    return read.json()


def task_in(
    http: httpx.AsyncClient, replica: Replica, token: str, task_id: str, *wanted: str
) -> Check:
    """A check: the task, once its status is one of `wanted` (a failed task fails the test)."""

    async def check() -> Any:
        task = await read_task(http, replica, token, task_id)
        assert task["status"] not in ("failed",), task
        return task if task["status"] in wanted else None

    return check
