"""The toolbox turns every failure of a tool into an error outcome the model can read: a
typed refusal, a timeout, and a fault inside the tool itself (logged, never the turn's end)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from menagerie.core.agents.tools import Toolbox, ToolContext
from menagerie.core.errors import Invalid
from menagerie.core.identity.models import Principal
from menagerie.core.llm.models import ToolSpec

CONTEXT = ToolContext(Principal("default", "alice", frozenset()), "tester", "sess_x")
EMPTY = {"type": "object", "properties": {}, "additionalProperties": False}


class Faulty:
    """A tool source whose tools fail in each way a tool can."""

    def specs(self, tenant_id: str, allowed: Sequence[str]) -> Sequence[ToolSpec]:
        return [ToolSpec(name, name, EMPTY) for name in ("broken", "refusing", "fine")]

    async def call(self, name: str, arguments: dict[str, Any], context: ToolContext) -> str:
        if name == "broken":
            raise RuntimeError("internal detail that must not reach the model")
        if name == "refusing":
            raise Invalid("no such thing", field="thing")
        return "done"


async def test_a_fault_inside_a_tool_is_an_error_outcome(caplog: pytest.LogCaptureFixture) -> None:
    toolbox = Toolbox([Faulty()])
    outcome = await toolbox.call("broken", "{}", CONTEXT, ["*"])
    assert outcome.is_error
    body = json.loads(outcome.output)
    assert body["error"] == "TOOL_FAILED"
    assert "internal detail" not in outcome.output
    assert any("broken failed unexpectedly" in r.getMessage() for r in caplog.records)

    refused = await toolbox.call("refusing", "{}", CONTEXT, ["*"])
    assert (refused.is_error, json.loads(refused.output)["error"]) == (True, "INVALID_INPUT")
    fine = await toolbox.call("fine", "{}", CONTEXT, ["*"])
    assert (fine.is_error, fine.output) == (False, "done")
