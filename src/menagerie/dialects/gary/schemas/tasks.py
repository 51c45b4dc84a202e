"""Seed 004 "Agent Orchestration Endpoints": `/api/chat` and `/api/tasks*`."""

from __future__ import annotations

from typing import Any

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
