"""The hot path of a tool call, on real servers: a running session answers without a database
read, a lock or a hand-off to another task, and still follows every change to its installation
(its configuration, its removal, the same made through another process) and its own end."""

from __future__ import annotations

import asyncio
import time

import pytest

from menagerie.core.errors import Invalid, NotFound, Timeout, Unavailable
from menagerie.core.tools.arguments import validate_arguments
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.core.tools.test_installations import TIME, install_and_wait
from tests.utils.mcp_servers import eventually, require_npm
from tests.utils.principals import admin

EVERYTHING = "server-everything"
LONG = "trigger-long-running-operation"


async def test_concurrent_calls_on_one_session_do_not_wait_on_each_other(
    mcp_platform: Platform,
) -> None:
    require_npm()
    me = admin(mcp_platform)
    await install_and_wait(mcp_platform, me, EVERYTHING)
    started = time.monotonic()
    results = await asyncio.gather(
        *(
            mcp_platform.mcp.execute(me, EVERYTHING, LONG, {"duration": 2, "steps": 1})
            for _ in range(4)
        )
    )
    assert not any(result.is_error for result in results)
    # one after the other they take 8 s; the margin is for a loaded machine
    assert time.monotonic() - started < 6
    [session] = mcp_platform.mcp.sessions(me.tenant_id)
    assert session.metrics().requests_handled == 4


async def test_a_new_timeout_bounds_the_next_call_on_the_same_session(
    mcp_platform: Platform,
) -> None:
    require_npm()
    me = admin(mcp_platform)
    await install_and_wait(mcp_platform, me, EVERYTHING)
    [session] = mcp_platform.mcp.sessions(me.tenant_id)
    _, restart = await mcp_platform.mcp.configure(me, EVERYTHING, {"timeout": 0.5})
    assert not restart
    started = time.monotonic()
    with pytest.raises(Timeout) as slow:
        await mcp_platform.mcp.execute(me, EVERYTHING, LONG, {"duration": 10, "steps": 2})
    assert slow.value.reason == "TOOL_TIMEOUT"
    assert time.monotonic() - started < 5
    assert mcp_platform.mcp.sessions(me.tenant_id) == [session]
    assert session.restarts == 0
    echoed = await mcp_platform.mcp.execute(me, EVERYTHING, "echo", {"message": "still here"})
    assert echoed.content == [{"type": "text", "text": "Echo: still here"}]


async def test_a_call_after_uninstall_finds_nothing_installed(mcp_platform: Platform) -> None:
    me = admin(mcp_platform)
    await install_and_wait(mcp_platform, me, TIME)
    await mcp_platform.mcp.execute(me, TIME, "get_current_time", {"timezone": "UTC"})
    await mcp_platform.mcp.uninstall(me, TIME)
    with pytest.raises(NotFound) as gone:
        await mcp_platform.mcp.execute(me, TIME, "get_current_time", {"timezone": "UTC"})
    assert gone.value.reason == "SERVER_NOT_INSTALLED"


async def test_calls_in_flight_end_with_their_session(mcp_platform: Platform) -> None:
    require_npm()
    me = admin(mcp_platform)
    await install_and_wait(mcp_platform, me, EVERYTHING)
    slow = [
        asyncio.create_task(
            mcp_platform.mcp.execute(me, EVERYTHING, LONG, {"duration": 20, "steps": 2})
        )
        for _ in range(3)
    ]
    await asyncio.sleep(0.3)
    await mcp_platform.mcp.restart(me, EVERYTHING)
    for task in slow:
        with pytest.raises(Unavailable) as closed:
            await asyncio.wait_for(task, 5)  # not the 30 s call timeout
        assert closed.value.reason == "MCP_SERVER_OFFLINE"
    # the restarted session serves calls, and nothing of the old one is left in flight
    [session] = mcp_platform.mcp.sessions(me.tenant_id)
    echoed = await mcp_platform.mcp.execute(me, EVERYTHING, "echo", {"message": "new"})
    assert echoed.content == [{"type": "text", "text": "Echo: new"}]
    assert not session._in_flight


async def test_another_process_follows_changes_made_through_this_one(
    mcp_settings: Settings, redis_url: str
) -> None:
    # two processes of one deployment: one database, one bus, sessions of their own
    settings = mcp_settings.model_copy(update={"redis_url": redis_url})
    here, there = Platform.build(settings), Platform.build(settings)
    await here.start()
    await there.start()
    try:
        me = admin(here)
        await install_and_wait(here, me, TIME, {"local_timezone": "Europe/Paris"})
        # the other process's first call starts its own session from the stored installation
        await there.mcp.execute(me, TIME, "get_current_time", {"timezone": "UTC"})
        [first] = there.mcp.sessions(me.tenant_id)
        assert "Europe/Paris" in first.plan.args

        await here.mcp.configure(me, TIME, {"local_timezone": "Asia/Tokyo"})
        await eventually(lambda: not there.mcp.sessions(me.tenant_id), what="a dropped session")
        await there.mcp.execute(me, TIME, "get_current_time", {"timezone": "UTC"})
        [second] = there.mcp.sessions(me.tenant_id)
        assert "Asia/Tokyo" in second.plan.args

        await here.mcp.uninstall(me, TIME)
        await eventually(lambda: not there.mcp.sessions(me.tenant_id), what="a dropped session")
        with pytest.raises(NotFound):
            await there.mcp.execute(me, TIME, "get_current_time", {"timezone": "UTC"})
    finally:
        await there.stop()
        await here.stop()


def test_a_relisted_schema_is_the_one_checked() -> None:
    # validators are found by the schema object: a new listing brings new objects
    loose = {"type": "object", "properties": {"n": {"type": "integer"}}}
    validate_arguments("count", loose, {})
    strict = {**loose, "required": ["n"]}
    with pytest.raises(Invalid) as missing:
        validate_arguments("count", strict, {})
    assert missing.value.field == "n"
    for _ in range(3):  # whatever ids the garbage collector hands out again
        fresh = {"type": "object", "properties": {"n": {"type": "string"}}}
        with pytest.raises(Invalid):
            validate_arguments("count", fresh, {"n": 1})
        del fresh
    validate_arguments("count", loose, {"n": 1})
