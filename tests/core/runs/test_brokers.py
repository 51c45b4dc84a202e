"""Runs on real brokers (Redis, NATS JetStream, RabbitMQ) with two `menagerie worker`
processes: tasks kicked by a server that executes nothing are run by the workers, a stop sent
to the server reaches a task running on a worker, and a worker killed with SIGKILL mid-task
leaves its task to the other worker, which finishes it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from menagerie.core.ids import new_id
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.databases import IN_CI, reachable
from tests.utils.principals import admin

BROKERS = {
    "redis": (os.environ.get("MENAGERIE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"), 6379),
    "nats": (os.environ.get("MENAGERIE_TEST_NATS_URL", "nats://127.0.0.1:4222"), 4222),
    "rabbitmq": (
        os.environ.get("MENAGERIE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        5672,
    ),
}
# the offline model speaks slowly in the workers, so that a task is still running when a
# stop or a kill reaches it
TOKEN_DELAY_MS = 150


@pytest.fixture(params=list(BROKERS))
def broker_url(request: pytest.FixtureRequest) -> str:
    url, port = BROKERS[request.param]
    if not reachable(url, port):
        if IN_CI:
            pytest.fail(f"{request.param} is required under CI but not reachable at {url}")
        pytest.skip(f"{request.param} is not reachable at {url}")
    return url


@pytest.fixture
def settings(settings: Settings, broker_url: str) -> Settings:
    return settings.model_copy(
        update={
            "broker_url": broker_url,
            "broker_queue": new_id("runs-test", 10),  # tests running side by side stay apart
            "server_worker": False,
            "run_heartbeat_s": 0.2,
            "run_lapse_s": 2.0,
            "offline_token_delay_ms": 0,
        }
    )


def _environment(settings: Settings) -> dict[str, str]:
    assert settings.master_key is not None
    return {
        **os.environ,
        "MENAGERIE_DATA_DIR": str(settings.data_dir),
        "MENAGERIE_DATABASE_URL": settings.effective_database_url,
        "MENAGERIE_MASTER_KEY": settings.master_key.get_secret_value(),
        "MENAGERIE_BROKER_URL": str(settings.broker_url),
        "MENAGERIE_BROKER_QUEUE": settings.broker_queue,
        "MENAGERIE_RUN_HEARTBEAT_S": str(settings.run_heartbeat_s),
        "MENAGERIE_RUN_LAPSE_S": str(settings.run_lapse_s),
        "MENAGERIE_OFFLINE_TOKEN_DELAY_MS": str(TOKEN_DELAY_MS),
        "MENAGERIE_MIGRATE_ON_START": "false",
        "MENAGERIE_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two worker processes; started by the test once the server has migrated."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start_workers(settings: Settings, into: list[subprocess.Popen[bytes]], logs: Path) -> None:
    for n in range(2):
        log = (logs / f"worker-{n}.log").open("wb")
        into.append(
            subprocess.Popen(
                [sys.executable, "-m", "menagerie.cli", "worker", "--concurrency", "2"],
                env=_environment(settings),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform.build(settings)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


async def _running_on(server: Platform, task_id: str) -> str:
    """The worker id of the task's run, once a worker runs it."""
    async with asyncio.timeout(30):
        while True:
            run = await server.runs.store.latest_for(task_id)
            if run is not None and run.status == "running" and run.worker_id:
                return run.worker_id
            await asyncio.sleep(0.05)


# several machines share PostgreSQL: the multi-process runs are tested there (and SQLite's
# single-process runs in test_runs.py), which keeps the suite's time in bounds
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_workers_run_stop_and_survive_a_kill(
    server: Platform,
    settings: Settings,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    assert not server.runs.executing  # the server only kicks: the workers execute
    _start_workers(settings, workers, tmp_path)
    me, tasks = admin(server), server.agent_tasks

    quick = await tasks.create(
        me,
        agent="gary",
        title="time",
        description="/tool current_time {}",
        model=None,
        priority="high",
    )
    await tasks.start(me, quick.id)
    run = await server.runs.store.latest_for(quick.id)
    assert run is not None
    done = await server.runs.wait(run.id, 60)
    assert done.status == "completed", (done.error, _logs(tmp_path))
    finished = await tasks.wait(me, quick.id, 10)
    assert finished.result["tool_calls"][0]["name"] == "current_time"

    # a stop sent to the server reaches the task on whichever worker runs it
    long = "Tell me everything about " + " ".join(f"topic{n}" for n in range(200))
    stoppable = await tasks.create(
        me, agent="gary", title="long", description=long, model=None, priority="medium"
    )
    await tasks.start(me, stoppable.id)
    await _running_on(server, stoppable.id)
    stopped = await tasks.stop(me, stoppable.id, wait_s=10)
    assert stopped.status == "stopped", _logs(tmp_path)

    # SIGKILL the worker running a task: the other one takes the run over and finishes it
    survivor = await tasks.create(
        me,
        agent="gary",
        title="survive",
        description=" ".join(f"point{n}" for n in range(30)),
        model=None,
        priority="low",
    )
    await tasks.start(me, survivor.id)
    holder = await _running_on(server, survivor.id)
    pid = int(holder.split(":")[1])
    victim = next(process for process in workers if process.pid == pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    run = await server.runs.store.latest_for(survivor.id)
    assert run is not None
    ended = await server.runs.wait(run.id, 60)
    assert ended.status == "completed", (ended.error, _logs(tmp_path))
    assert ended.attempt == 2
    assert ended.worker_id != holder
    assert (await tasks.wait(me, survivor.id, 10)).status == "completed"


def _logs(folder: Path) -> str:
    return "\n".join(path.read_text(errors="replace")[-3000:] for path in folder.glob("*.log"))
