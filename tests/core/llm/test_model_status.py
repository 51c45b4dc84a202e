"""Each catalogue model's status says why it cannot be called, in a sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from menagerie.core.llm.providers.offline import MODEL
from menagerie.platform import Platform


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: what is read here lives in memory, not in the database."""
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


async def test_a_model_that_cannot_be_called_says_why(started: Platform) -> None:
    statuses = {
        s.model.model_id: s for s in await started.llm.models(started.settings.default_tenant)
    }
    offline = statuses[MODEL]
    assert (offline.availability, offline.reason) == ("available", None)
    gpt = statuses["gpt-4o"]
    assert gpt.availability == "unavailable"
    assert gpt.reason == "provider openai is not configured (it needs an API key or a base URL)"


async def test_a_provider_whose_calls_failed_is_degraded_with_its_wait(started: Platform) -> None:
    breaker = started.llm.router.breakers["offline"]
    for _ in range(breaker.failure_threshold):
        breaker.record_failure()
    offline = next(
        s
        for s in await started.llm.models(started.settings.default_tenant)
        if s.model.model_id == MODEL
    )
    assert offline.availability == "degraded"
    assert offline.reason is not None
    assert "recent calls failed" in offline.reason
