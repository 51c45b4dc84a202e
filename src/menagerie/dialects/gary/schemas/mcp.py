"""Crazy Gary's MCP wire models (seed 004 "MCP Integration Endpoints").

A "client" in Gary's words is one installed MCP server of the caller's tenant.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from menagerie.core.clock import iso
from menagerie.core.tools.models import IntegrationStatus, ToolInfo, ToolResult


class ExecuteIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tool_name: str = Field(min_length=1, max_length=128)
    client_name: str = Field(min_length=1, max_length=128)
    parameters: dict[str, Any] = Field(default_factory=dict)


class ToolOut(BaseModel):
    name: str
    description: str
    schema_: dict[str, Any] = Field(
        alias="schema", serialization_alias="schema", description="the tool's JSON Schema"
    )
    client: str = Field(description="the MCP server (client) that offers the tool")

    model_config = ConfigDict(populate_by_name=True)

    @classmethod
    def of(cls, tool: ToolInfo) -> Self:
        return cls(
            name=tool.name,
            description=tool.description,
            schema=tool.input_schema,
            client=tool.server,
        )


class ExecuteOut(BaseModel):
    result: dict[str, Any] | list[Any] = Field(
        description="the tool's structured result, else its content blocks"
    )
    success: bool
    error: str | SkipJsonSchema[None] = None  # when the tool itself reported a failure

    @classmethod
    def of(cls, result: ToolResult) -> Self:
        content = result.content
        return cls(
            result=content if isinstance(content, dict | list) else {"value": content},
            success=not result.is_error,
            error="The tool reported an error" if result.is_error else None,
        )


class StatusOut(BaseModel):
    status: Literal["idle", "healthy", "degraded", "unhealthy"]
    connected_clients: list[str]
    available_tools: int
    last_health_check: str = Field(
        description="the latest health check of a connected client; with none yet, the time "
        "of this report (the status is read live from the sessions)"
    )

    @classmethod
    def of(cls, status: IntegrationStatus) -> Self:
        return cls(
            status=status.state,
            connected_clients=status.connected,
            available_tools=status.available_tools,
            last_health_check=iso(status.last_check),
        )
