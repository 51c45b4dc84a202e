"""MADACE `GET /api/state` (seed 001 "State Machine API"): the stories of the workflow status
file by state, with statistics. A malformed file is a 500 naming the line that failed."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from menagerie.core.workflows.board import Story, read_board
from menagerie.dialects.madace.deps import PlatformDep, PrincipalDep
from menagerie.dialects.madace.schemas.workflows import BoardOut, Statistics, StoryOut
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api", tags=["state machine"])


def _story(story: Story) -> StoryOut:
    return StoryOut(
        id=story.id,
        title=story.title,
        points=story.points,
        milestone=story.milestone,
        completedAt=story.completed_at,
    )


@router.get(
    "/state", response_model=BoardOut, response_model_exclude_none=True, responses=errors(500)
)
async def get_state(platform: PlatformDep, principal: PrincipalDep) -> BoardOut:
    path = platform.projects.status_file(principal.tenant_id)
    board = await asyncio.to_thread(read_board, path)
    stories = board.stories
    return BoardOut(
        backlog=[_story(s) for s in board.backlog],
        todo=[_story(s) for s in board.todo],
        in_progress=[_story(s) for s in board.in_progress],
        done=[_story(s) for s in board.done],
        statistics=Statistics(
            totalStories=len(stories),
            totalPoints=sum(s.points for s in stories),
            backlogCount=len(board.backlog),
            todoCount=len(board.todo),
            inProgressCount=len(board.in_progress),
            doneCount=len(board.done),
        ),
    )
