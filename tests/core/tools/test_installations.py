"""Installing real MCP servers from PyPI and npm, calling their tools, surviving their crashes.

Nothing here is faked: `mcp-server-time` comes from PyPI into its own virtual environment,
`@modelcontextprotocol/server-everything` from npm into its own prefix, and both run as child
processes that the tests kill to see the session marked offline and restarted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from menagerie.core.errors import Conflict, Forbidden, Invalid, NotFound, Timeout, Unavailable
from menagerie.core.events.bus import Event
from menagerie.core.identity.models import Principal
from menagerie.core.tools.events import InstallationProgress, ServerStatusChanged
from menagerie.core.tools.portability import import_servers
from menagerie.core.tools.service import PROGRESS_TOPIC, STATUS_TOPIC
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.mcp_servers import eventually, everything_server, pids_running, require_npm
from tests.utils.principals import admin, other_tenant

TIME = "mcp-server-time"
GROWING_SERVER = Path(__file__).parents[2] / "utils" / "mcp_growing_server.py"


async def install_and_wait(
    platform: Platform, principal: Principal, name: str, configuration: dict | None = None
) -> None:
    """Install, then wait for the background install and the first start (npm can be slow)."""
    await platform.mcp.install(principal, name, configuration or {})
    for _ in range(1800):
        item = await platform.mcp.installation(principal, name)
        if item.status in ("running", "failed"):
            break
        await asyncio.sleep(0.1)
    assert item.status == "running", item.error


async def test_pypi_server_installs_lists_and_calls(mcp_platform: Platform) -> None:
    me = admin(mcp_platform)
    progress = await mcp_platform.events.subscribe(PROGRESS_TOPIC)
    await install_and_wait(mcp_platform, me, TIME, {"local_timezone": "Europe/Paris"})

    steps: list[Event] = []
    while (event := await progress.get(within=1)) is not None:
        steps.append(event)
    # the bus carries core's typed event, not one surface's payload
    events = [InstallationProgress.from_payload(e.payload) for e in steps]
    percents = [e.progress for e in events]
    assert percents == sorted(percents)
    assert percents[-1] == 100
    assert (events[-1].server_name, events[-1].state, events[-1].remaining_s) == (
        TIME,
        "completed",
        0,
    )
    assert events[0].step
    assert events[0].remaining_s > 0
    assert "current_step" not in steps[0].payload

    tools = {t.name: t for t in await mcp_platform.mcp.tools(me, TIME)}
    assert {"get_current_time", "convert_time"} <= set(tools)
    assert tools["get_current_time"].input_schema["required"] == ["timezone"]

    result = await mcp_platform.mcp.execute(me, TIME, "get_current_time", {"timezone": "UTC"})
    assert not result.is_error
    assert result.content["timezone"] == "UTC"
    assert result.duration_ms > 0

    with pytest.raises(Invalid) as wrong_type:
        await mcp_platform.mcp.execute(me, TIME, "get_current_time", {"timezone": 5})
    assert (wrong_type.value.reason, wrong_type.value.field) == ("INVALID_INPUT", "timezone")
    with pytest.raises(Invalid) as missing:
        await mcp_platform.mcp.execute(me, TIME, "convert_time", {"time": "10:00"})
    assert missing.value.field == "source_timezone"
    with pytest.raises(NotFound):
        await mcp_platform.mcp.execute(me, TIME, "no_such_tool", {})

    [item] = await mcp_platform.mcp.installations(me)
    assert (item.status, item.health_status, item.tool_count) == ("running", "healthy", 2)
    assert item.configuration == {"local_timezone": "Europe/Paris"}
    assert item.metrics is not None
    assert item.metrics.requests_handled >= 1
    assert item.metrics.errors == 0  # refused arguments never reached the server

    with pytest.raises(Conflict):
        await mcp_platform.mcp.install(me, TIME, {})


async def test_killed_server_goes_offline_and_comes_back(mcp_platform: Platform) -> None:
    me = admin(mcp_platform)
    await install_and_wait(mcp_platform, me, TIME)
    statuses = await mcp_platform.events.subscribe(STATUS_TOPIC)
    [pid] = pids_running(TIME)
    os.kill(pid, signal.SIGKILL)

    seen: list[str] = []
    # the start's own "running" may still be on its way: wait for offline, then running again
    while "offline" not in seen or "running" not in seen[seen.index("offline") :]:
        event = await statuses.get(within=30)
        assert event is not None, f"status events so far: {seen}"
        seen.append(ServerStatusChanged.from_payload(event.payload).status)

    await eventually(lambda: bool(pids_running(TIME)), what="a restarted server process")
    [restarted] = pids_running(TIME)
    assert restarted != pid
    session = mcp_platform.mcp.sessions(me.tenant_id)[0]
    assert session.restarts >= 1
    result = await mcp_platform.mcp.execute(me, TIME, "get_current_time", {"timezone": "UTC"})
    assert result.content["timezone"] == "UTC"


async def test_offline_server_answers_mcp_server_offline(mcp_platform: Platform) -> None:
    me = admin(mcp_platform)
    await install_and_wait(mcp_platform, me, TIME)
    await mcp_platform.mcp.stop_server(me, TIME)
    assert not pids_running(TIME)
    with pytest.raises(Unavailable) as offline:
        await mcp_platform.mcp.execute(me, TIME, "get_current_time", {"timezone": "UTC"})
    assert offline.value.reason == "MCP_SERVER_OFFLINE"
    assert (await mcp_platform.mcp.installation(me, TIME)).status == "stopped"
    await mcp_platform.mcp.restart(me, TIME)
    assert (await mcp_platform.mcp.installation(me, TIME)).status == "running"


async def test_npm_server_over_stdio(mcp_platform: Platform) -> None:
    require_npm()
    me = admin(mcp_platform)
    await install_and_wait(mcp_platform, me, "server-everything")
    names = {t.name for t in await mcp_platform.mcp.tools(me, "server-everything")}
    assert {"echo", "get-sum"} <= names
    echoed = await mcp_platform.mcp.execute(me, "server-everything", "echo", {"message": "hi"})
    assert echoed.content == [{"type": "text", "text": "Echo: hi"}]
    total = await mcp_platform.mcp.execute(me, "server-everything", "get-sum", {"a": 2, "b": 40})
    assert "42" in str(total.content)
    with pytest.raises(Invalid) as bad:
        await mcp_platform.mcp.execute(me, "server-everything", "get-sum", {"a": "two", "b": 1})
    assert bad.value.field == "a"


async def test_npm_server_over_streamable_http(mcp_platform: Platform) -> None:
    require_npm()
    me = admin(mcp_platform)
    await install_and_wait(mcp_platform, me, "server-everything-http")
    echoed = await mcp_platform.mcp.execute(
        me, "server-everything-http", "echo", {"message": "over http"}
    )
    assert echoed.content == [{"type": "text", "text": "Echo: over http"}]
    [pid] = pids_running("streamableHttp")
    os.kill(pid, signal.SIGKILL)
    session = mcp_platform.mcp.sessions(me.tenant_id)[0]
    await eventually(lambda: session.restarts >= 1 and session.state == "running", within=30)
    again = await mcp_platform.mcp.execute(me, "server-everything-http", "echo", {"message": "x"})
    assert not again.is_error


async def test_uninstall_stops_the_server_and_removes_its_files(mcp_platform: Platform) -> None:
    me = admin(mcp_platform)
    await install_and_wait(mcp_platform, me, TIME)
    [item] = await mcp_platform.mcp.installations(me)
    workdir = mcp_platform.mcp.settings.root / item.id
    assert workdir.is_dir()
    await mcp_platform.mcp.uninstall(me, TIME)
    assert not workdir.exists()
    assert not pids_running(TIME)
    assert await mcp_platform.mcp.installations(me) == []
    with pytest.raises(NotFound):
        await mcp_platform.mcp.uninstall(me, TIME)


async def test_reconfigure_says_restart_required(mcp_platform: Platform) -> None:
    me = admin(mcp_platform)
    await install_and_wait(mcp_platform, me, TIME)
    item, restart = await mcp_platform.mcp.configure(me, TIME, {"local_timezone": "Asia/Tokyo"})
    assert restart
    assert item.configuration == {"local_timezone": "Asia/Tokyo"}
    _, again = await mcp_platform.mcp.configure(me, TIME, {"local_timezone": "Asia/Tokyo"})
    assert not again
    await mcp_platform.mcp.restart(me, TIME)
    session = mcp_platform.mcp.sessions(me.tenant_id)[0]
    assert "Asia/Tokyo" in session.plan.args


async def test_installations_belong_to_their_tenant(mcp_platform: Platform) -> None:
    me = admin(mcp_platform)
    await install_and_wait(mcp_platform, me, TIME)
    stranger = await other_tenant(mcp_platform)
    assert await mcp_platform.mcp.installations(stranger) == []
    with pytest.raises(NotFound):
        await mcp_platform.mcp.execute(stranger, TIME, "get_current_time", {"timezone": "UTC"})
    with pytest.raises(NotFound):
        await mcp_platform.mcp.uninstall(stranger, TIME)
    assert mcp_platform.mcp.cached_tools(stranger.tenant_id) == []


async def test_bad_configuration_and_unknown_servers_are_refused(mcp_platform: Platform) -> None:
    me = admin(mcp_platform)
    with pytest.raises(NotFound):
        await mcp_platform.mcp.install(me, "no-such-server", {})
    with pytest.raises(Invalid) as missing:
        await mcp_platform.mcp.install(me, "server-filesystem", {})
    assert missing.value.field == "directories"
    with pytest.raises(Invalid) as private:
        await mcp_platform.mcp.install(
            me, "github-mcp", {"api_token": "ghp_x" * 4, "url": "http://169.254.169.254/"}
        )
    assert private.value.reason == "URL_NOT_ALLOWED"
    assert await mcp_platform.mcp.installations(me) == []


async def test_remote_server_over_legacy_sse(mcp_settings: Settings) -> None:
    settings = mcp_settings.model_copy(update={"mcp_allow_private_urls": True})
    platform = Platform.build(settings)
    await platform.start()
    try:
        async with everything_server("sse") as address:
            me = admin(platform)
            config = {"servers": {"legacy": {"type": "sse", "url": f"http://{address}/sse"}}}
            [item] = await import_servers(platform.mcp, me, config)
            assert item.status == "installing"
            for _ in range(300):
                if (await platform.mcp.installation(me, "legacy")).status == "running":
                    break
                await asyncio.sleep(0.1)
            echoed = await platform.mcp.execute(me, "legacy", "echo", {"message": "sse"})
            assert echoed.content == [{"type": "text", "text": "Echo: sse"}]
    finally:
        await platform.stop()


async def test_a_restarted_platform_resumes_its_servers(mcp_settings: Settings) -> None:
    first = Platform.build(mcp_settings)
    await first.start()
    try:
        me = admin(first)
        await install_and_wait(first, me, TIME)
    finally:
        await first.stop()
    assert not pids_running(TIME)

    second = Platform.build(mcp_settings)
    await second.start()
    try:
        # the stored status may still say "running" from before the restart: resumed means
        # this process holds a session for the server and has marked it running again
        for _ in range(300):
            resumed = bool(second.mcp.sessions(me.tenant_id))
            if resumed and (await second.mcp.installation(me, TIME)).status == "running":
                break
            await asyncio.sleep(0.1)
        result = await second.mcp.execute(me, TIME, "get_current_time", {"timezone": "UTC"})
        assert result.content["timezone"] == "UTC"
    finally:
        await second.stop()


async def test_a_slow_call_times_out_and_the_session_lives_on(mcp_platform: Platform) -> None:
    require_npm()
    me = admin(mcp_platform)
    await install_and_wait(mcp_platform, me, "server-everything")
    with pytest.raises(Timeout) as slow:
        await mcp_platform.mcp.execute(
            me,
            "server-everything",
            "trigger-long-running-operation",
            {"duration": 10, "steps": 2},
            timeout_s=0.5,
        )
    assert slow.value.reason == "TOOL_TIMEOUT"
    echoed = await mcp_platform.mcp.execute(me, "server-everything", "echo", {"message": "ok"})
    assert echoed.content == [{"type": "text", "text": "Echo: ok"}]
    [session] = mcp_platform.mcp.sessions(me.tenant_id)
    assert session.metrics().errors == 1


async def test_only_an_admin_chooses_a_command_line(mcp_platform: Platform) -> None:
    me = admin(mcp_platform)
    user = Principal(me.tenant_id, "usr_plain", frozenset())
    config = {"mcpServers": {"shell": {"command": "/bin/sh", "args": ["-c", "id"]}}}
    with pytest.raises(Forbidden) as refused:
        await import_servers(mcp_platform.mcp, user, config)
    assert refused.value.reason == "INSUFFICIENT_PERMISSIONS"
    with pytest.raises(Forbidden):
        await mcp_platform.mcp.install(user, TIME, {"command": "/bin/sh"})
    for name in ("LD_PRELOAD", "NODE_OPTIONS", "PYTHONSTARTUP", "PATH", "GIT_SSH_COMMAND"):
        with pytest.raises(Forbidden) as loader:
            await mcp_platform.mcp.install(user, TIME, {"env": {name: "/tmp/evil"}})
        assert loader.value.details["field"] == f"env.{name}"
    assert await mcp_platform.mcp.installations(me) == []

    # what an admin chose stays; the user may change the rest, not the command line
    await import_servers(
        mcp_platform.mcp, me, {"mcpServers": {"tool": {"command": "/bin/true"}}}, auto_start=False
    )
    _, _ = await mcp_platform.mcp.configure(user, "tool", {"env": {"LOG_LEVEL": "debug"}})
    with pytest.raises(Forbidden):
        await mcp_platform.mcp.configure(user, "tool", {"args": ["-c", "id"]})
    with pytest.raises(Forbidden):
        await mcp_platform.mcp.configure(user, "tool", {"command": "/bin/sh"})


async def test_a_call_in_flight_when_the_server_stops_fails_at_once(
    mcp_platform: Platform,
) -> None:
    require_npm()
    me = admin(mcp_platform)
    await install_and_wait(mcp_platform, me, "server-everything")
    slow = asyncio.create_task(
        mcp_platform.mcp.execute(
            me, "server-everything", "trigger-long-running-operation", {"duration": 20}
        )
    )
    await asyncio.sleep(0.3)
    await mcp_platform.mcp.stop_server(me, "server-everything")
    with pytest.raises(Unavailable) as stopped:
        await asyncio.wait_for(slow, 5)  # not the 30 s call timeout
    assert stopped.value.reason == "MCP_SERVER_OFFLINE"


async def test_tool_list_changes_are_picked_up_without_polling(mcp_settings: Settings) -> None:
    # health checks far apart: only the server's notification can refresh the list in time
    settings = mcp_settings.model_copy(update={"mcp_health_interval_s": 600})
    platform = Platform.build(settings)
    await platform.start()
    try:
        me = admin(platform)
        # -P: the script's folder holds tests/utils/http.py, which would shadow the stdlib
        server = {"command": sys.executable, "args": ["-P", str(GROWING_SERVER)]}
        await import_servers(platform.mcp, me, {"mcpServers": {"growing": server}})
        for _ in range(300):
            if (await platform.mcp.installation(me, "growing")).status == "running":
                break
            await asyncio.sleep(0.1)
        assert [t.name for t in await platform.mcp.tools(me, "growing")] == ["grow"]
        await platform.mcp.execute(me, "growing", "grow", {"name": "shiny"})
        [session] = platform.mcp.sessions(me.tenant_id)
        await eventually(lambda: session.tool("shiny") is not None, within=10)
        grown = await platform.mcp.execute(me, "growing", "shiny", {})
        assert "I am shiny" in str(grown.content)
    finally:
        await platform.stop()
