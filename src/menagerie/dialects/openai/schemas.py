"""OpenAI's chat-completions wire models, and their translation to core's typed messages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

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
    """Text only: the models Menagerie routes to are spoken to in text."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["text"]
    text: str


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    content: str | list[ContentPart] | None = None
    name: str | None = Field(None, max_length=128)
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = Field(None, max_length=128)


class SystemMessage(_Message):
    role: Literal["system", "developer"]


class UserMessage(_Message):
    role: Literal["user"]


class AssistantMessage(_Message):
    role: Literal["assistant"]


class ToolMessage(_Message):
    """A tool's answer names the call it answers (OpenAI's schema requires it too)."""

    role: Literal["tool"]
    tool_call_id: str = Field(min_length=1, max_length=128)


MessageIn = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]


class FunctionSpec(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolIn(BaseModel):
    type: Literal["function"] = "function"
    function: FunctionSpec


class StreamOptions(BaseModel):
    include_usage: StrictBool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    messages: list[MessageIn] = Field(min_length=1, max_length=2000)
    tools: list[ToolIn] | None = Field(None, max_length=128)
    tool_choice: Literal["auto", "none", "required"] | dict[str, Any] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    stream: StrictBool = False
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
                return _message(message).content
        raise Invalid(
            "an agent model answers the newest user message; there is none",
            field="messages",
            expected="at least one message with role user",
        )

    def core_messages(self) -> list[ChatMessage]:
        return [_message(m) for m in self.messages]

    def core_tools(self) -> tuple[ToolSpec, ...]:
        return tuple(
            ToolSpec(t.function.name, t.function.description, t.function.parameters)
            for t in self.tools or ()
        )

    def core_tool_choice(self) -> Literal["auto", "none", "required"] | None:
        if isinstance(self.tool_choice, dict):
            return "required"  # a named function: the model must call a tool
        return self.tool_choice


def _message(message: _Message) -> ChatMessage:
    content = message.content
    if isinstance(content, list):
        content = "".join(part.text for part in content)
    role = "system" if message.role in ("system", "developer") else message.role
    calls = tuple(
        ToolCall(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()
    )
    return ChatMessage(role, content or "", calls, message.tool_call_id, message.name)


# -- responses -----------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    message: str
    type: str  # invalid_request_error, server_error, insufficient_quota, requests
    param: str | None = None
    code: str | None = None  # model_not_found, invalid_api_key, rate_limit_exceeded … or null


class ErrorBody(BaseModel):
    """OpenAI's error answer: `{"error": {"message", "type", "param", "code"}}`."""

    error: ErrorDetail


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class FunctionCallOut(BaseModel):
    name: str
    arguments: str


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallOut


class AssistantOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None  # null when the answer is only tool calls
    tool_calls: list[ToolCallOut] | None = None


FinishReasonOut = Literal["stop", "length", "tool_calls", "content_filter"]


class Choice(BaseModel):
    index: int = 0
    message: AssistantOut
    finish_reason: FinishReasonOut
    logprobs: None = None


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    system_fingerprint: None = None


class ToolCallDelta(ToolCallOut):
    index: int


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: FinishReasonOut | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One `data:` event of a streamed completion; the stream ends with `data: [DONE]`.
    A failure mid-stream is one `data:` event holding an `ErrorBody` instead."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None  # only on the last chunk, with include_usage
