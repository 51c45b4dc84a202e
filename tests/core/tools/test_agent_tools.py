"""Agents call MCP tools while chatting: a real server's tool, called by the agent loop."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from menagerie.core.agents.events import ToolCallStarted, ToolResult
from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.tools.agent_tools import function_name
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.core.tools.test_installations import TIME, install_and_wait
from tests.utils.principals import admin, other_tenant

TIMEKEEPER = """\
name: timekeeper
version: 1.0.0
title: Timekeeper
module: test
description: Knows the time anywhere, through an MCP server.
persona:
  role: Tells the time
  identity: I ask the time server.
  communication_style: Brief
tools: ["mcp:mcp-server-time/get_current_time", "current_time"]
"""
TOOL = function_name(TIME, "get_current_time")


@pytest.fixture
async def platform(mcp_settings: Settings) -> AsyncIterator[Platform]:
    agents = mcp_settings.resolved_data_dir / "agents"
    agents.mkdir(parents=True, exist_ok=True)
    (agents / "timekeeper.yaml").write_text(TIMEKEEPER)
    built = Platform.build(mcp_settings)
    await built.start()
    try:
        yield built
    finally:
        await built.stop()


async def test_a_turn_calls_an_mcp_tool_and_stores_the_result(platform: Platform) -> None:
    me = admin(platform)
    await install_and_wait(platform, me, TIME)
    offered = platform.agents.toolbox.specs(["mcp:mcp-server-time/get_current_time"], me.tenant_id)
    assert [spec.name for spec in offered] == [TOOL]  # one tool named, one tool offered

    script = f'What time is it in Tokyo?\n/tool {TOOL} {{"timezone": "Asia/Tokyo"}}'
    events = [e async for e in platform.agents.run(me, TurnRequest("timekeeper", script))]
    call = next(e for e in events if isinstance(e, ToolCallStarted))
    result = next(e for e in events if isinstance(e, ToolResult))
    assert (call.name, call.arguments) == (TOOL, {"timezone": "Asia/Tokyo"})
    assert not result.is_error
    assert json.loads(result.output)["timezone"] == "Asia/Tokyo"

    session_id = events[0].session_id
    stored = (await platform.chat.history(me, session_id)).messages
    tool_message = next(m for m in stored if m.role == "tool")
    assert tool_message.metadata["tool"] == TOOL
    assert json.loads(tool_message.content)["timezone"] == "Asia/Tokyo"
    assert f"{TOOL} returned" in stored[-1].content  # the model read the result back

    wrong = f'/tool {TOOL} {{"timezone": 42}}'
    events = [e async for e in platform.agents.run(me, TurnRequest("timekeeper", wrong))]
    refused = next(e for e in events if isinstance(e, ToolResult))
    assert refused.is_error
    assert json.loads(refused.output)["error"] == "INVALID_INPUT"


async def test_tools_not_named_or_of_another_tenant_are_not_offered(platform: Platform) -> None:
    me = admin(platform)
    await install_and_wait(platform, me, TIME)
    toolbox = platform.agents.toolbox
    assert [s.name for s in toolbox.specs(["current_time"], me.tenant_id)] == ["current_time"]
    assert len(toolbox.specs([f"mcp:{TIME}"], me.tenant_id)) == 2
    stranger = await other_tenant(platform)
    assert toolbox.specs([f"mcp:{TIME}"], stranger.tenant_id) == []
    script = f'/tool {TOOL} {{"timezone": "UTC"}}'
    events = [e async for e in platform.agents.run(stranger, TurnRequest("timekeeper", script))]
    assert not any(isinstance(e, ToolResult) for e in events)  # never offered, never called
