"""Scale-out: two `menagerie serve` replicas and two `menagerie worker` processes, each a real
process with its own data directory, sharing one PostgreSQL database, one Redis (event bus,
socket.io manager, rate limits, runs broker) and the secrets of docs/deploy.md, pass the same
checks as one server:

1. an account made on replica A signs in on replica B (one JWT secret);
2. a socket.io client on A hears the `mama_bear_response` of a message sent through B,
   exactly once, and no other user's client does; an MCP install through B is heard on A
   (`mcp_installation_progress`), the same events as B's own clients hear, its tool answers
   through A, and once uninstalled through B it is gone from A too;
3. a chat session continued alternately on A and B keeps one history;
4. a rate limit is counted across both replicas;
5. a task started through A is stopped through B, on whichever worker runs it;
6. A killed with SIGKILL while writes are in flight: B and the workers go on, every write A
   acknowledged is there, the task A started finishes.

Starting four processes costs seconds on a loaded machine, and `--dist worksteal` would
start a module-scoped set once per test worker: so one test, with the steps above, in order
(the kill comes last). Concurrent first starts on a new database are checked apart, in
process.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from menagerie.core.ids import new_id
from menagerie.storage import migrate
from menagerie.storage.database import Database
from tests.utils.http import bearer
from tests.utils.replicas import (
    DEADLINE_S,
    Check,
    Deployment,
    Replica,
    Shared,
    answer_heard_once,
    connected,
    create_task,
    heard,
    read_task,
    task_in,
    until,
)
from tests.utils.seed_examples import example
from tests.utils.socket_events import EventClient

RATE_LIMIT = 4  # PodPlay's `models` category, counted across the replicas
# the workers' offline model speaks slowly (its answer to LONG_TASK is about 55 words: some
# 14 s), so that a task is still running when its stop (or a replica's death) comes; the
# replicas' offline model answers chat turns at once
WORKER_TOKEN_DELAY_MS = 250
LONG_TASK = "Tell me everything about " + " ".join(f"topic{n}" for n in range(200))
SHORT_TASK = "point0 point1 point2"
GITHUB = "github-mcp"
SEED_SERVER = Path(__file__).parents[1] / "utils" / "mcp_seed_server.py"


def _catalogue() -> str:
    """`github-mcp` as a local MCP server with the seed's tools (DATA_DIR/mcp_servers.json),
    the same file in each replica's data directory, so that an install needs no network."""
    schema = example("000", "GET", "/api/mcp/search")["servers"][0]["configuration_schema"]
    server = {
        "name": GITHUB,
        "description": "GitHub repository management and integration",
        "category": "devops",
        "author": "GitHub",
        "command": sys.executable,
        "args": ["-P", str(SEED_SERVER)],
        "configuration_schema": schema,
    }
    return json.dumps({"version": 1, "servers": [server]})


T = TypeVar("T")


# -- the steps ----------------------------------------------------------------------------


async def sign_up_on_a_sign_in_on_b(http: httpx.AsyncClient, a: Replica, b: Replica) -> str:
    """A user registered through A; its JWT works on B. Returns the JWT."""
    email = f"{new_id('u', 10)}@example.com"
    registered = await http.post(
        f"{a.url}/gary/api/auth/register",
        json={"email": email, "password": "Scale-out-passw0rd!", "fullName": "Scale Out"},
    )
    assert registered.status_code == 201, registered.text
    token: str = registered.json()["token"]
    me = await http.get(f"{b.url}/gary/api/auth/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["user"]["email"] == email
    return token


async def chat_heard_across(
    http: httpx.AsyncClient,
    a: Replica,
    b: Replica,
    token: str,
    stranger: str,
    opened: list[EventClient],
) -> tuple[EventClient, EventClient]:
    """A message sent through B is answered on B and heard once by the user's client on A;
    another user's client in the same session id hears nothing. Returns (on A, on B); every
    client it connects is added to `opened`, for the test to close."""
    on_a = await connected(a.url, token, opened)
    on_b = await connected(b.url, token, opened)
    other = await connected(a.url, stranger, opened)
    await answer_heard_once(on_a, on_b, new_id("sess", 12), stranger=other)
    await other.sio.disconnect()
    return on_a, on_b


async def install_heard_across(
    http: httpx.AsyncClient,
    a: Replica,
    b: Replica,
    master: str,
    on_a: EventClient,
    on_b: EventClient,
) -> int:
    """An MCP install through B (run by B's in-process worker): its progress reaches the
    tenant's clients on A and on B alike, each event once; its tool answers through A too
    (which starts its own session of the server). Returns the progress events heard."""
    request = example("000", "POST", "/api/mcp/install", "request")
    started = await http.post(
        f"{b.url}/podplay/api/mcp/install", json=request, headers=bearer(master)
    )
    assert started.status_code == 200, started.text
    installation = started.json()["installation_id"]

    def done(client: EventClient) -> Check:
        return lambda: heard(
            client, "mcp_installation_progress", installation_id=installation, progress=100
        )

    await until("the install's last progress on B", done(on_b))
    await until("the install's last progress on A", done(on_a))
    seen_a = heard(on_a, "mcp_installation_progress", installation_id=installation)
    seen_b = heard(on_b, "mcp_installation_progress", installation_id=installation)
    assert seen_a == seen_b, (seen_a, seen_b)
    assert [event["progress"] for event in seen_a] == sorted(e["progress"] for e in seen_a)

    call = example("000", "POST", "/api/mcp/execute/{server_name}", "request")
    done = await http.post(
        f"{a.url}/podplay/api/mcp/execute/{GITHUB}", json=call, headers=bearer(master)
    )
    assert done.status_code == 200, done.text
    assert done.json()["success"] is True
    assert done.json()["result"]["repository_url"] == "https://github.com/your-org/my-new-repo"
    return len(seen_a)


async def uninstall_across(http: httpx.AsyncClient, a: Replica, b: Replica, master: str) -> None:
    """The server uninstalled through B: A drops its own session of it (its process ends),
    and a call through A answers that nothing of that name is installed."""
    assert a.children_running(str(SEED_SERVER)), "A runs no session of the installed server"
    gone = await http.delete(f"{b.url}/podplay/api/mcp/uninstall/{GITHUB}", headers=bearer(master))
    assert gone.status_code == 200, gone.text
    await until("A's server process ended", lambda: not a.children_running(str(SEED_SERVER)))
    call = example("000", "POST", "/api/mcp/execute/{server_name}", "request")
    refused = await http.post(
        f"{a.url}/podplay/api/mcp/execute/{GITHUB}", json=call, headers=bearer(master)
    )
    assert refused.status_code == 404, refused.text


async def one_history(http: httpx.AsyncClient, a: Replica, b: Replica, token: str) -> str:
    """Four turns of one session, alternately through A and B: both replicas read the same
    four exchanges, and each turn's prompt held the turns before it. Returns the session."""
    session = new_id("sess", 12)
    sent = []
    for n, replica in enumerate((a, b, a, b), start=1):
        message = f"turn {n} through {replica.name}"
        answered = await http.post(
            f"{replica.url}/podplay/api/chat/mama-bear",
            json={"message": message, "session_id": session},
            headers=bearer(token),
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["session_id"] == session
        sent.append(message)
    histories = []
    for replica in (a, b):
        read = await http.get(
            f"{replica.url}/podplay/api/chat/history",
            params={"user_id": "default-user", "session_id": session},
            headers=bearer(token),
        )
        assert read.status_code == 200, read.text
        histories.append(sorted(read.json()["messages"], key=lambda m: m["timestamp"]))
    assert histories[0] == histories[1]
    assert [m["user_message"] for m in histories[0]] == sent
    tokens = [m["tokens_used"] for m in histories[0]]
    assert tokens == sorted(set(tokens)), tokens  # strictly growing: the history was read
    return session


async def one_rate_limit(http: httpx.AsyncClient, a: Replica, b: Replica, token: str) -> list[str]:
    """PodPlay's `models` limit (RATE_LIMIT an hour here), spent by requests split across A
    and B: the count is one, and both refuse once it is spent. Returns what Remaining said."""
    remaining = []
    for n in range(RATE_LIMIT):
        replica = (a, b)[n % 2]
        answer = await http.get(f"{replica.url}/podplay/api/models", headers=bearer(token))
        assert answer.status_code == 200, answer.text
        remaining.append(answer.headers["x-ratelimit-remaining"])
    assert remaining == [str(RATE_LIMIT - n) for n in range(1, RATE_LIMIT + 1)]
    for replica in (a, b):
        refused = await http.get(f"{replica.url}/podplay/api/models", headers=bearer(token))
        assert refused.status_code == 429, (replica.name, refused.text)
        assert int(refused.headers["retry-after"]) > 0
    return remaining


async def stop_across(
    http: httpx.AsyncClient, deployment: Deployment, a: Replica, b: Replica, token: str
) -> str:
    """A long task created and started through A, stopped through B while a worker runs it.
    Returns the worker that ran it."""
    task_id = await create_task(http, a, token, LONG_TASK)
    started = await http.post(f"{a.url}/gary/api/tasks/{task_id}/start", headers=bearer(token))
    assert started.status_code == 200, started.text

    running_on = await until("a worker running it", lambda: deployment.running_on(task_id))
    holder = deployment.worker_of(running_on)
    assert (await read_task(http, b, token, task_id))["status"] == "running"
    stopped = await http.post(f"{b.url}/gary/api/tasks/{task_id}/stop", headers=bearer(token))
    assert stopped.status_code == 200, stopped.text
    assert stopped.json() == {"status": "stopped"}
    await until("the task stopped, seen through A", task_in(http, a, token, task_id, "stopped"))
    run = await deployment.newest_run(task_id)
    assert run is not None
    assert run[0] == "cancelled", run
    assert deployment.workers[holder].alive  # the run stopped, not its worker
    return holder


async def _write_until_killed(
    http: httpx.AsyncClient, a: Replica, token: str, acknowledged: list[str], writer: int
) -> None:
    """Create tasks through A, one after another, until A stops answering."""
    n = 0
    while True:
        n += 1
        try:
            created = await http.post(
                f"{a.url}/gary/api/tasks",
                json={"title": f"write {writer}.{n}", "description": "kept"},
                headers=bearer(token),
            )
        except httpx.TransportError:
            return
        if created.status_code != 201:
            return
        acknowledged.append(created.json()["task_id"])


async def kill_a(
    http: httpx.AsyncClient,
    deployment: Deployment,
    a: Replica,
    b: Replica,
    token: str,
    clients: tuple[EventClient, EventClient],
    session: str,
) -> tuple[int, int]:
    """SIGKILL replica A with writes in flight and a task it started running on a worker: B
    and the workers go on, and every write A acknowledged is there. Returns (writes
    acknowledged by A, tasks of the user B lists)."""
    on_a, on_b = clients
    running = await create_task(http, a, token, SHORT_TASK)
    started = await http.post(f"{a.url}/gary/api/tasks/{running}/start", headers=bearer(token))
    assert started.status_code == 200, started.text
    await until("a worker running A's task", lambda: deployment.running_on(running))

    acknowledged: list[str] = []
    writers = [
        asyncio.create_task(_write_until_killed(http, a, token, acknowledged, n)) for n in range(3)
    ]
    await until("writes acknowledged by A", lambda: len(acknowledged) >= 9)
    deployment.replicas[a.name].kill()
    await asyncio.wait_for(asyncio.gather(*writers), DEADLINE_S)
    kept = len(acknowledged)
    await until("A's socket.io client dropped", lambda: not on_a.sio.connected)

    page = await http.get(f"{b.url}/gary/api/tasks?limit=100", headers=bearer(token))
    assert page.status_code == 200, page.text
    listed = {task["id"] for task in page.json()}
    assert len(listed) < 100  # all of them on one page
    missing = set(acknowledged) - listed
    assert not missing, f"writes acknowledged by A and lost: {sorted(missing)}"

    finished = await until(
        "A's task finished on a worker", task_in(http, b, token, running, "completed")
    )
    assert "point2" in json.dumps(finished["result"])
    after = await create_task(http, b, token, "/tool current_time {}")
    assert (
        await http.post(f"{b.url}/gary/api/tasks/{after}/start", headers=bearer(token))
    ).status_code == 200
    await until("B's task finished", task_in(http, b, token, after, "completed"))

    await on_b.sio.emit("mama_bear_message", {"message": "still here?", "session_id": session})
    await until(
        "an answer on B after A died",
        lambda: heard(on_b, "mama_bear_response", session_id=session),
    )
    history = await http.get(
        f"{b.url}/podplay/api/chat/history",
        params={"user_id": "default-user", "session_id": session},
        headers=bearer(token),
    )
    assert history.status_code == 200, history.text
    said = [m["user_message"] for m in history.json()["messages"]]
    assert {"turn 1 through a", "turn 3 through a", "still here?"} <= set(said), said
    assert b.alive
    assert all(worker.alive for worker in deployment.workers.values())
    return kept, len(listed)


# -- the tests ----------------------------------------------------------------------------


@pytest.fixture
async def deployment(
    database_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[Deployment]:
    shared = Shared(
        database_url,
        redis_url,
        settings={
            "MENAGERIE_RATE_LIMITS": json.dumps(
                # sign-ups count by address, which every test on this machine shares
                {"podplay.models": f"{RATE_LIMIT}/hour", "gary.auth": "unlimited"}
            ),
            "MENAGERIE_RUN_HEARTBEAT_S": "0.5",
        },
    )
    started = Deployment(shared, tmp_path)
    try:
        yield started
    finally:
        started.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_replicas_and_two_workers_serve_as_one(deployment: Deployment) -> None:
    began = time.monotonic()
    catalogue = {"mcp_servers.json": _catalogue()}
    a = deployment.start_replica("a", files=catalogue, MENAGERIE_OFFLINE_TOKEN_DELAY_MS="0")
    b = deployment.start_replica("b", files=catalogue, MENAGERIE_OFFLINE_TOKEN_DELAY_MS="0")
    for name in ("w1", "w2"):
        # at INFO, a failure shows which runs each worker took
        deployment.start_worker(
            name,
            MENAGERIE_OFFLINE_TOKEN_DELAY_MS=str(WORKER_TOKEN_DELAY_MS),
            MENAGERIE_LOG_LEVEL="INFO",
        )
    await deployment.ready(a, b)
    figures: dict[str, Any] = {"started_s": round(time.monotonic() - began, 1)}
    steps: dict[str, float] = {}
    figures["steps_s"] = steps

    async def step(name: str, work: Awaitable[T]) -> T:
        """One step, its seconds noted for the figures printed at the end."""
        lap = time.monotonic()
        try:
            return await work
        except AssertionError as failed:
            raise AssertionError(f"step {name}: {failed}\n{deployment.output()}") from failed
        finally:
            steps[name] = round(time.monotonic() - lap, 1)

    master, opened = deployment.shared.master_key, list[EventClient]()
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            token = await step("sign-in", sign_up_on_a_sign_in_on_b(http, a, b))
            stranger = await step("sign-in", sign_up_on_a_sign_in_on_b(http, b, a))
            clients = await step("chat", chat_heard_across(http, a, b, token, stranger, opened))
            figures["install_events"] = await step(
                "mcp", install_heard_across(http, a, b, master, *clients)
            )
            await step("uninstall", uninstall_across(http, a, b, master))
            session = await step("history", one_history(http, a, b, token))
            figures["remaining"] = await step("rate", one_rate_limit(http, a, b, token))
            figures["stopped_on"] = await step("stop", stop_across(http, deployment, a, b, token))
            kept, listed = await step(
                "kill", kill_a(http, deployment, a, b, token, clients, session)
            )
            figures.update(acknowledged_before_kill=kept, tasks_listed_by_b=listed)
    finally:
        for client in opened:
            if client.sio.connected:
                await client.sio.disconnect()
    figures["total_s"] = round(time.monotonic() - began, 1)
    print("scale-out:", json.dumps(figures))


@pytest.mark.postgres
@pytest.mark.empty_database
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_first_starts_on_a_new_database_migrate_it_once(database_url: str) -> None:
    """Replicas and workers starting together all migrate: one does, the others wait for it
    (migrate.py's advisory lock) and find the schema at head, instead of failing."""
    databases = [Database(database_url) for _ in range(3)]
    try:
        revisions = await asyncio.gather(*(migrate.upgrade(db) for db in databases))
        assert revisions == [migrate.head_revision()] * 3
        assert await migrate.current_revision(databases[0]) == migrate.head_revision()
    finally:
        for db in databases:
            await db.dispose()
