"""A chat turn recorded as a task, in one core call: completed with the answer, or failed
with the reason, and never left running."""

from __future__ import annotations

import pytest

from menagerie.core.errors import NotFound
from menagerie.core.identity.models import Principal
from menagerie.platform import Platform
from menagerie.settings import Settings


@pytest.fixture
def platform(settings: Settings) -> Platform:
    return Platform.build(settings.model_copy(update={"offline_token_delay_ms": 0}))


async def _principal(platform: Platform) -> Principal:
    signed_in = await platform.accounts.register("fan@example.com", "SecurePassword123", "Fan")
    return await platform.identity.authenticate_bearer(signed_in.tokens.access_token)


async def test_a_turn_ends_its_task_completed(started: Platform) -> None:
    me = await _principal(started)
    first = await started.chat_tasks.run(
        me, agent="gary", message="What can you help me with?\nmore", context="a web app"
    )
    assert "What can you help me with?" in first.response
    task = await started.tasks.get(me, first.task.id)
    assert (task.kind, task.status, task.progress) == ("chat", "completed", 100)
    assert task.title == "What can you help me with?"
    assert task.result == {"response": first.response, "message_id": task.result["message_id"]}
    assert task.model == "menagerie-offline"
    # the next turn continues the same conversation
    second = await started.chat_tasks.run(me, agent="gary", message="And then?")
    assert second.task.session_id == first.task.session_id


async def test_a_failed_turn_fails_its_task(started: Platform) -> None:
    me = await _principal(started)
    with pytest.raises(NotFound):
        await started.chat_tasks.run(me, agent="no-such-agent", message="hello")
    (task,), _ = await started.tasks.list(me)
    assert task.status == "failed"
    assert task.error is not None
    assert task.error.startswith("AGENT_NOT_FOUND") or task.error.startswith("NOT_FOUND")
