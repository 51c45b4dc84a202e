"""The metrics each part of the server feeds, read from `/metrics` with prometheus-client's
own parser: MCP tool calls by server and outcome, sandboxes running and their commands'
latency, socket.io connections by surface, the event bus's lag, the database pool, and the
task-transition hook. Each moves when the thing it counts happens, on a real server with a
real MCP server process, real sandbox commands and a real socket.io client."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import socketio
from prometheus_client.parser import text_string_to_metric_families

from menagerie.app import create_app
from menagerie.core.errors import Invalid
from menagerie.core.identity.models import Principal
from menagerie.core.sandboxes.models import SandboxRequest
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.mcp_servers import PACKAGES_DIR, eventually
from tests.utils.principals import admin
from tests.utils.server import serve

TOKEN = "test-master-key-0123456789abcdef"  # conftest's master key
SEED_SERVER = Path(__file__).parents[2] / "utils" / "mcp_seed_server.py"
GITHUB = "github"
ALICE = Principal("default", "alice", frozenset({"user"}))


@pytest.fixture
def database_url(tmp_path) -> str:  # what is counted does not depend on the engine
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[str, Platform]]:
    catalogue = {
        "version": 1,
        "servers": [{"name": GITHUB, "command": sys.executable, "args": ["-P", str(SEED_SERVER)]}],
    }
    (settings.data_dir / "mcp_servers.json").write_text(json.dumps(catalogue))
    changes = {"rate_limits_enabled": False, "mcp_packages_dir": PACKAGES_DIR}
    platform = Platform.build(settings.model_copy(update=changes))
    async with serve(create_app(platform=platform)) as base:
        yield base, platform


async def samples(base: str) -> dict[tuple, float]:
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    found: dict[tuple, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[tuple, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_mcp_tool_calls_count_by_server_and_outcome(served: tuple[str, Platform]) -> None:
    base, platform = served
    me = admin(platform)
    await platform.mcp.install(me, GITHUB, {})
    for _ in range(600):
        if (await platform.mcp.installation(me, GITHUB)).status == "running":
            break
        await asyncio.sleep(0.1)
    before = await samples(base)
    for _ in range(2):
        await platform.mcp.execute(me, GITHUB, "list_repositories", {})
    with pytest.raises(Invalid):  # refused before the call: not a call
        await platform.mcp.execute(me, GITHUB, "list_repositories", {"type": 5})
    await platform.mcp.execute(me, GITHUB, "slow_operation", {"seconds": 0.2})
    after = await samples(base)

    ok = {"server": GITHUB, "outcome": "ok"}
    assert (
        value(after, "menagerie_mcp_tool_calls_total", **ok)
        - value(before, "menagerie_mcp_tool_calls_total", **ok)
        == 3
    )
    latency = {"server": GITHUB}
    count = "menagerie_mcp_tool_call_duration_seconds_count"
    assert value(after, count, **latency) - value(before, count, **latency) == 3
    added = value(after, "menagerie_mcp_tool_call_duration_seconds_sum", **latency) - value(
        before, "menagerie_mcp_tool_call_duration_seconds_sum", **latency
    )
    assert added >= 0.2  # the slow call's measured time is in it


async def test_sandboxes_running_and_exec_latency(served: tuple[str, Platform]) -> None:
    base, platform = served
    if not platform.sandboxes.status.available:
        pytest.skip(f"no sandbox backend here: {platform.sandboxes.status.reason}")
    before = await samples(base)
    assert value(before, "menagerie_sandboxes_running") == 0
    sandbox = await platform.sandboxes.create(ALICE, SandboxRequest(name="metered"))
    await platform.sandboxes.start_sandbox(ALICE, sandbox.id)
    assert value(await samples(base), "menagerie_sandboxes_running") == 1
    await platform.sandboxes.execute(ALICE, sandbox.id, "echo one")
    await platform.sandboxes.execute(ALICE, sandbox.id, "ls /no/such/place")
    after = await samples(base)
    count = "menagerie_sandbox_exec_duration_seconds_count"
    assert value(after, count, outcome="ok") - value(before, count, outcome="ok") == 1
    assert value(after, count, outcome="failed") - value(before, count, outcome="failed") == 1
    assert value(after, "menagerie_sandbox_exec_duration_seconds_sum", outcome="ok") > 0
    await platform.sandboxes.stop_sandbox(ALICE, sandbox.id)
    assert value(await samples(base), "menagerie_sandboxes_running") == 0


async def test_socketio_connections_bus_lag_pool_and_task_hook(
    served: tuple[str, Platform],
) -> None:
    base, platform = served
    before = await samples(base)
    gary = {"transport": "socketio", "surface": "gary"}
    assert value(before, "menagerie_realtime_connections", **gary) == 0
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(base, socketio_path="gary/socket.io", auth={"token": TOKEN})
    try:
        connected = await samples(base)
        assert value(connected, "menagerie_realtime_connections", **gary) == 1
    finally:
        await client.disconnect()
    await eventually(
        lambda: platform.metrics.connections.labels("socketio", "gary")._value.get() == 0, within=5
    )
    assert value(await samples(base), "menagerie_realtime_connections", **gary) == 0

    # an event published is delivered to the server's own subscribers (journal, relays) and
    # to ours: each delivery's lag is observed under its topic
    subscription = await platform.events.subscribe("bench.ping")
    await platform.events.publish("bench.ping", {"n": 1})
    assert (await subscription.get(within=5)) is not None
    lag = await samples(base)
    assert value(lag, "menagerie_event_bus_lag_seconds_count", topic="bench.ping") >= 1
    assert value(lag, "menagerie_event_bus_lag_seconds_sum", topic="bench.ping") < 5

    # SQLite's pool here is a queue pool: its size and use are read at each scrape
    assert value(lag, "menagerie_db_pool_size") == platform.settings.database_pool_size
    assert value(lag, "menagerie_db_pool_checked_out") >= 0

    platform.metrics.task_transition("task", "running")
    platform.metrics.task_transition("task", "running")
    platform.metrics.task_transition("orchestration", "completed")
    after = await samples(base)
    assert value(after, "menagerie_task_transitions_total", kind="task", state="running") == 2
    assert (
        value(after, "menagerie_task_transitions_total", kind="orchestration", state="completed")
        == 1
    )
