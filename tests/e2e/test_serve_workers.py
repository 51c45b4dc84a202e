"""`menagerie serve --workers N`, as real processes: uvicorn's workers on one port are replicas
of the server, so what crosses requests must cross workers.

1. Several workers without Redis: refused at once, exit 2, one sentence naming the setting.
2. `--workers 2` on PostgreSQL and Redis: two worker processes answer (seen from /proc: which
   child holds the client's TCP connection); a rate limit spent on both is counted once; a
   socket.io client on one worker hears, exactly once, the answer to a message its user sent
   through the other; the parent killed outright, its workers end too.
3. The default: with Redis and no `--workers`, one worker per core the process may use, said
   in the start line (SQLite here: the parent migrates the new file once, before the workers).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil
import pytest

from menagerie.core.ids import new_id
from tests.utils.http import bearer
from tests.utils.replicas import (
    DEADLINE_S,
    START_DEADLINE_S,
    Deployment,
    Replica,
    Shared,
    answer_heard_once,
    connected,
    until,
)
from tests.utils.socket_events import EventClient

RATE_LIMIT = 4  # PodPlay's `models` category, an hour


def workers_of(server: Replica) -> list[int]:
    """The pids of the uvicorn workers `menagerie serve` spawned (multiprocessing's spawn
    children; not its resource tracker, not what the workers start)."""
    found = []
    for child in psutil.Process(server.pid).children():
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child.pid)
        except psutil.Error:  # it ended while being looked at
            continue
    return sorted(found)


def ended(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def held_by(server: Replica, pids: list[int]) -> dict[int, set[int]]:
    """For each worker, the client ports of the connections to the server's port it holds."""
    held: dict[int, set[int]] = {}
    for pid in pids:
        connections = psutil.Process(pid).net_connections(kind="tcp")
        held[pid] = {
            c.raddr.port
            for c in connections
            if c.raddr and c.laddr.port == server.port and c.status == psutil.CONN_ESTABLISHED
        }
    return held


def client_port(response: httpx.Response) -> int:
    """The local port of the connection `response` came on."""
    stream = response.extensions["network_stream"]
    port: int = stream.get_extra_info("client_addr")[1]
    return port


async def client_on(server: Replica, pids: list[int], wanted: int) -> httpx.AsyncClient:
    """A client with one kept-alive connection, accepted by worker `wanted`: new connections
    until the kernel hands one to it (it picks among the workers waiting on the socket)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        http = httpx.AsyncClient(
            base_url=server.url, timeout=30, limits=httpx.Limits(max_connections=1)
        )
        answered = await http.get("/gary/health/live")
        assert answered.status_code == 200, answered.text
        if client_port(answered) in held_by(server, pids)[wanted]:
            return http
        await http.aclose()
    raise AssertionError(f"no connection reached worker {wanted}\n{server.output()}")


async def sign_up(server: Replica) -> str:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        registered = await http.post(
            "/gary/api/auth/register",
            json={
                "email": f"{new_id('u', 10)}@example.com",
                "password": "Workers-passw0rd!",
                "fullName": "Two Workers",
            },
        )
    assert registered.status_code == 201, registered.text
    token: str = registered.json()["token"]
    return token


async def one_rate_limit(server: Replica, pids: list[int], token: str) -> list[int]:
    """The `models` limit spent alternately on each worker, each request on a connection the
    worker holds: one count, and both refuse once it is spent. Returns who answered."""
    answered_by, remaining = [], []
    for n in range(RATE_LIMIT + len(pids)):
        pid = pids[n % len(pids)]
        http = await client_on(server, pids, pid)
        try:
            answer = await http.get("/podplay/api/models", headers=bearer(token))
            # the same connection, so the same worker (connections are not handed over)
            assert client_port(answer) in held_by(server, pids)[pid]
        finally:
            await http.aclose()
        answered_by.append(pid)
        if n < RATE_LIMIT:
            assert answer.status_code == 200, answer.text
            remaining.append(answer.headers["x-ratelimit-remaining"])
        else:
            assert answer.status_code == 429, (pid, answer.text)
            assert int(answer.headers["retry-after"]) > 0
    assert remaining == [str(RATE_LIMIT - n) for n in range(1, RATE_LIMIT + 1)]
    return answered_by


async def one_client_per_worker(
    server: Replica, pids: list[int], token: str, opened: list[EventClient]
) -> dict[int, EventClient]:
    """socket.io clients of one user until each worker holds one: which worker took a client
    is the one whose connections grew by one as it connected (nothing else connects)."""
    per_worker: dict[int, EventClient] = {}
    deadline = time.monotonic() + DEADLINE_S
    while len(per_worker) < len(pids):
        assert time.monotonic() < deadline, f"a worker got no client\n{server.output()}"
        before = held_by(server, pids)
        client = await connected(server.url, token, opened)
        after = held_by(server, pids)
        [owner] = [pid for pid in pids if after[pid] - before[pid]]
        if owner in per_worker:
            await client.sio.disconnect()
        else:
            per_worker[owner] = client
    return per_worker


async def chat_heard_across(clients: dict[int, EventClient]) -> str:
    """A message sent through one worker's client: its answer reaches the user's client on
    the other worker, once. Returns the message id."""
    (_, on_x), (_, on_y) = sorted(clients.items())
    _, answer = await answer_heard_once(on_x, on_y, new_id("sess", 12))
    message_id: str = answer["message_id"]
    return message_id


@pytest.fixture
async def deployment(
    database_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[Deployment]:
    shared = Shared(
        database_url,
        redis_url,
        settings={
            "MENAGERIE_RATE_LIMITS": json.dumps(
                # sign-ups and probes count by address, which every test on this machine shares
                {
                    "podplay.models": f"{RATE_LIMIT}/hour",
                    "gary.auth": "unlimited",
                    "gary.health": "unlimited",
                }
            ),
            "MENAGERIE_OFFLINE_TOKEN_DELAY_MS": "0",
            "MENAGERIE_SERVER_WORKER": "true",  # no `menagerie worker` here
        },
    )
    started = Deployment(shared, tmp_path)
    try:
        yield started
    finally:
        started.close()


def test_several_workers_without_redis_are_refused(tmp_path: Path) -> None:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("MENAGERIE_")
    }
    environment.update(MENAGERIE_DATA_DIR=str(tmp_path / "data"), COLUMNS="200")
    done = subprocess.run(
        [sys.executable, "-m", "menagerie.cli", "serve", "--workers", "2"],
        env=environment,
        cwd=tmp_path,  # away from the repository's .env
        capture_output=True,
        text=True,
        timeout=START_DEADLINE_S,
    )
    said = " ".join(re.sub(r"[│╭╮╰╯─]", " ", done.stderr).split())
    assert done.returncode == 2, said
    assert "Invalid value for --workers: 2 workers need MENAGERIE_REDIS_URL" in said, said
    assert not (tmp_path / "data").exists()  # refused before anything was made


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_workers_serve_as_one(deployment: Deployment) -> None:
    began, laps = time.monotonic(), {}
    server = deployment.start_replica("serve", args=("--workers", "2"))
    await deployment.ready(server)
    laps["ready"] = time.monotonic() - began
    pids = await until("two workers", lambda: len(workers_of(server)) == 2 and workers_of(server))
    assert "menagerie serve: 2 workers (--workers 2)" in server.output()
    token = await sign_up(server)

    answered_by = await one_rate_limit(server, pids, token)
    assert set(answered_by) == set(pids)
    laps["rate"] = time.monotonic() - began

    opened: list[EventClient] = []
    try:
        clients = await one_client_per_worker(server, pids, token, opened)
        laps["clients"] = time.monotonic() - began
        await chat_heard_across(clients)
    finally:
        for client in opened:
            if client.sio.connected:
                await client.sio.disconnect()
    assert workers_of(server) == pids  # neither worker died on the way
    # the first start's admin, made and announced once, by the parent, not by each worker
    assert server.output().count("Admin API token") == 1, server.output()
    # the parent killed outright: its workers do not go on serving its port as orphans
    server.kill()
    await until("the workers ended with their parent", lambda: all(map(ended, pids)))
    laps["total"] = time.monotonic() - began
    print("serve --workers 2:", json.dumps({k: round(v, 1) for k, v in laps.items()}))


@pytest.mark.redis
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_one_worker_per_core_with_redis(deployment: Deployment) -> None:
    ours = os.sched_getaffinity(0)
    cores = sorted(ours)[:2]  # as if the machine had (at most) two
    os.sched_setaffinity(0, cores)  # inherited by the server; ours again right after
    try:
        server = deployment.start_replica("serve", MENAGERIE_WORKERS="")  # the default
    finally:
        os.sched_setaffinity(0, ours)
    count = "one worker" if len(cores) == 1 else f"{len(cores)} workers"
    line = f"menagerie serve: {count}, one per core (--workers to change), on 127.0.0.1:"
    await until("the start line", lambda: line in server.output(), START_DEADLINE_S)
    # spawned once the parent has migrated the new SQLite file and made the admin
    await until("a worker per core", lambda: len(workers_of(server)) == len(cores))
