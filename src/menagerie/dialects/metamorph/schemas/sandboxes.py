"""Metamorph's sandbox wire models (seed 003 "Sandbox Endpoints")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

Template = Literal["metamorph-basic", "metamorph-research", "metamorph-autonomous"]
Status = Literal["pending", "starting", "running", "stopping", "stopped", "terminated"]


class NewSandbox(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=200)
    template: Template | None = None
    runtime: str | None = Field(None, max_length=32)
    vcpus: int | None = Field(None, ge=1, le=256)
    memoryMb: int | None = Field(None, ge=64, le=1_048_576)
    timeoutMinutes: int | None = Field(None, ge=1, le=10_080)
    environment: dict[str, str] = Field(default_factory=dict)
    workingDirectory: str | None = Field(None, min_length=1, max_length=256)


class CreatedConfig(BaseModel):
    runtime: str
    vcpus: int
    memoryMb: int
    timeoutMinutes: int


class AgentDefaults(BaseModel):
    intensity: int
    enableProactiveMemory: bool


class SandboxCreated(BaseModel):
    id: str
    name: str
    status: Status
    config: CreatedConfig
    agentConfig: AgentDefaults
    createdAt: str


class SandboxSummary(BaseModel):
    id: str
    name: str
    status: Status
    runtime: str
    vcpus: int
    memoryMb: int
    timeoutMinutes: int
    workingDirectory: str
    hasAgent: bool
    createdAt: str
    startedAt: str | None  # null until first started
    stoppedAt: str | None
    lastActivityAt: str | None  # null until first started
    totalRuntimeSeconds: int
    errorMessage: str | None


class SandboxList(BaseModel):
    sandboxes: list[SandboxSummary]
    total: int
    limit: int
    offset: int


class AgentSettings(BaseModel):
    intensity: int
    coherenceFloor: int
    enableProactiveMemory: bool


class AttachedAgent(BaseModel):
    sessionId: str
    config: AgentSettings


class SandboxDetail(BaseModel):
    id: str
    name: str
    status: Status
    runtime: str
    vcpus: int
    memoryMb: int
    timeoutMinutes: int
    environment: dict[str, str]
    workingDirectory: str
    agent: AttachedAgent | None  # null until an agent is attached
    # Menagerie runs sandboxes itself: the id its backend knows the sandbox by (its own)
    vercelSandboxId: str
    createdAt: str
    startedAt: str | None
    stoppedAt: str | None
    lastActivityAt: str | None
    totalRuntimeSeconds: int
    errorMessage: str | None
    # not in seed 003: where it runs and what holds it
    backend: str
    template: str


class Started(BaseModel):
    id: str
    status: Status
    startedAt: str


class StoppedBody(BaseModel):
    id: str
    status: Status
    stoppedAt: str
    runtimeSeconds: int


class Execute(BaseModel):
    model_config = ConfigDict(extra="ignore")

    command: str = Field(min_length=1, max_length=8192)
    cwd: str | None = Field(None, min_length=1, max_length=1024)
    timeout: int | None = Field(None, ge=1, le=600_000, description="milliseconds")


class Executed(BaseModel):
    success: bool
    stdout: str
    stderr: str
    exitCode: int
    executionTimeMs: int
    # not in seed 003: why output stopped short
    timedOut: bool
    truncated: bool


class FileItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    path: str = Field(min_length=1, max_length=1024)
    content: str


class WriteFiles(BaseModel):
    model_config = ConfigDict(extra="ignore")

    files: list[FileItem] = Field(min_length=1, max_length=100)


class FileOutcome(BaseModel):
    path: str
    success: bool
    error: str | None = Field(None, description="why this file was refused; absent on success")


class FilesWritten(BaseModel):
    results: list[FileOutcome]
    successCount: int
    totalCount: int


class AgentConfigIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    intensity: int | None = Field(None, ge=0, le=100)
    coherenceFloor: int | None = Field(None, ge=0, le=100)
    enableProactiveMemory: StrictBool | None = None


class Attach(BaseModel):
    model_config = ConfigDict(extra="ignore")

    config: AgentConfigIn = Field(default_factory=AgentConfigIn)


class AttachedConfig(AgentSettings):
    sandboxed: bool
    sandboxId: str
    vaultId: str


class Attached(BaseModel):
    sessionId: str
    config: AttachedConfig
    attachedAt: str


class AgentMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str = Field(min_length=1, max_length=32_000)


class AgentAnswer(BaseModel):
    message: str
    userMessage: str
    sessionId: str
    sandboxId: str
    timestamp: str


class AgentReply(BaseModel):
    response: AgentAnswer
    sessionId: str
    executionTimeMs: int


class Period(BaseModel):
    start: str
    end: str


class UsageFigures(BaseModel):
    activeSandboxes: int
    totalSandboxesCreated: int
    runtimeHours: float
    totalExecutions: int


class Limits(BaseModel):
    maxSandboxes: int
    maxRuntimeHours: float
    maxVcpus: int
    maxMemoryMb: int
    maxTimeoutMinutes: int


class Remaining(BaseModel):
    sandboxes: int
    runtimeHours: float


class Usage(BaseModel):
    tier: str
    period: Period
    usage: UsageFigures
    limits: Limits
    remaining: Remaining
    limitExceeded: bool


class LimitError(BaseModel):
    """`SANDBOX_LIMIT_REACHED` carries the count and the limit beside the envelope's fields."""

    error: str
    code: str
    details: str | None = None
    request_id: str
    currentCount: int
    limit: int
