"""Seed 004 "Agent Orchestration Endpoints": `/api/chat` and `/api/tasks*`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str = Field(min_length=1, max_length=100_000)
    context: str | dict[str, Any] | None = None


class ChatAnswer(BaseModel):
    response: str
    task_id: str


class TaskEntry(BaseModel):
    id: str
    title: str
    description: str
    status: str  # created | running | completed | failed | stopped
    model: str | None  # null until a model is chosen for it
    priority: str
    progress: int
    created_at: str
    updated_at: str


class TaskDetail(TaskEntry):
    result: dict[str, Any] | None
    error: str | None


class TaskBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=1, max_length=500)
    description: str = Field(max_length=100_000)
    # none: the agent's own preferred model (docs/contract.md); a model that cannot be called
    # is passed over for the next available one, and the task records the one that answered
    model: str | None = Field(None, max_length=200)
    priority: Literal["low", "medium", "high", "critical"] = "medium"


class TaskCreated(BaseModel):
    task_id: str
    status: Literal["created"]


class TaskStarted(BaseModel):
    status: Literal["started"]


class TaskStopped(BaseModel):
    status: Literal["stopped"]


class AgentStats(BaseModel):
    total_tasks: int
    active_tasks: int
    completed_tasks: int
    failed_tasks: int
    # seconds from start to completion over completed tasks; 0.0 before any completed
    average_completion_time: float
    # completed / (completed + failed); 0.0 before any ended (both counts say so)
    success_rate: float
