"""Seed 001 "Workflows API" and "State Machine API"."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


class WorkflowSummary(BaseModel):
    name: str = Field(examples=["plan-project"])
    agent: str = Field(examples=["pm"])
    phase: str = Field(examples=["planning"])
    steps: int = Field(description="how many steps it has", examples=[5])


class WorkflowList(BaseModel):
    workflows: list[WorkflowSummary]


class StepOut(BaseModel):
    name: str = Field(examples=["Assess scale"])
    action: str = Field(examples=["elicit"])
    prompt: str = Field(examples=["What is the scope of this project?"])


class WorkflowDetail(BaseModel):
    name: str
    description: str
    agent: str
    phase: str
    steps: list[StepOut]


class WorkflowStateOut(BaseModel):
    workflowName: str
    currentStep: int = Field(description="steps done so far")
    totalSteps: int
    completed: bool
    startedAt: int = Field(description="epoch milliseconds")
    variables: dict[str, Any] = Field(description="what the steps collected, by variable")


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    userInput: str = Field(
        min_length=1,
        max_length=8000,  # with the step's prompt, within a chat message's 10,000 characters
        description="the answer to the step's prompt, or what the step should consider",
        examples=["This is a medium-scale web application project"],
    )


class StepExecuted(BaseModel):
    success: bool = True
    currentStep: int
    totalSteps: int
    completed: bool
    agentResponse: str
    nextPrompt: str | None = Field(description="the next step's prompt; null once completed")


class StoryOut(BaseModel):
    id: str = Field(examples=["TEST-009"])
    title: str
    points: int
    milestone: str | SkipJsonSchema[None] = Field(None, description="left out when not given")
    completedAt: str | SkipJsonSchema[None] = Field(
        None, description="YYYY-MM-DD, done stories that give it"
    )


class Statistics(BaseModel):
    totalStories: int
    totalPoints: int
    backlogCount: int
    todoCount: int
    inProgressCount: int
    doneCount: int


class BoardOut(BaseModel):
    backlog: list[StoryOut]
    todo: list[StoryOut]
    in_progress: list[StoryOut]
    done: list[StoryOut]
    statistics: Statistics
