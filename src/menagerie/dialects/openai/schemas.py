"""OpenAI's chat-completions wire models, and their translation to core's typed messages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from menagerie.core.errors import Invalid
from menagerie.core.llm.models import ChatMessage, ToolCall, ToolSpec


class FunctionCall(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    arguments: str = "{}"


class ToolCallIn(BaseModel):
    id: str = Field(min_length=1, max_length=128)
    type: Literal["function"] = "function"
    function: FunctionCall


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = Field(None, max_length=128)
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = Field(None, max_length=128)


class FunctionSpec(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolIn(BaseModel):
    type: Literal["function"] = "function"
    function: FunctionSpec


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    messages: list[MessageIn] = Field(min_length=1, max_length=2000)
    tools: list[ToolIn] | None = Field(None, max_length=128)
    tool_choice: Literal["auto", "none", "required"] | dict[str, Any] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: Annotated[int, Field(ge=1, le=1)] = 1
    user: str | None = None
    # OpenAI's request metadata; for `agent:<name>` models, `session_id` continues a session
    metadata: dict[str, str] | None = Field(None, max_length=16)

    def last_user_text(self) -> str:
        """The newest user message's text: what an agent model answers."""
        for index in range(len(self.messages) - 1, -1, -1):
            message = self.messages[index]
            if message.role == "user":
                return _message(index, message).content
        raise Invalid(
            "an agent model answers the newest user message; there is none",
            field="messages",
            expected="at least one message with role user",
        )

    def core_messages(self) -> list[ChatMessage]:
        return [_message(index, m) for index, m in enumerate(self.messages)]

    def core_tools(self) -> tuple[ToolSpec, ...]:
        return tuple(
            ToolSpec(t.function.name, t.function.description, t.function.parameters)
            for t in self.tools or ()
        )

    def core_tool_choice(self) -> Literal["auto", "none", "required"] | None:
        if isinstance(self.tool_choice, dict):
            return "required"  # a named function: the model must call a tool
        return self.tool_choice


def _message(index: int, message: MessageIn) -> ChatMessage:
    content = message.content
    if isinstance(content, list):
        texts = []
        for part in content:
            if part.type != "text" or part.text is None:
                raise Invalid(
                    f"content parts of type {part.type!r} are not supported; send text",
                    field=f"messages.{index}.content",
                    received=part.type,
                    expected="text",
                )
            texts.append(part.text)
        content = "".join(texts)
    role = "system" if message.role == "developer" else message.role
    if role == "tool" and not message.tool_call_id:
        raise Invalid(
            "a tool message needs the tool_call_id it answers",
            field=f"messages.{index}.tool_call_id",
            received=None,
            expected="the id of an earlier tool call",
            missing=True,
        )
    calls = tuple(
        ToolCall(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()
    )
    return ChatMessage(role, content or "", calls, message.tool_call_id, message.name)
