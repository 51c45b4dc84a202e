"""Vector memory on SQLite and PostgreSQL: the embedder, meaning found without shared words,
vectors removed with their memories, the backfill, and keyword search without a model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, func, insert, select

from menagerie.core.clock import utcnow
from menagerie.core.ids import new_id
from menagerie.core.memory.embedding import DIMS, MODEL, MiniLmEmbedder, default_embedder
from menagerie.core.memory.search import quantise
from menagerie.core.memory.service import MemoryService, draft
from menagerie.core.memory.tables import MemoryEmbeddingRow, MemoryRow
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.principals import admin

# sentence-transformers/all-MiniLM-L6-v2 as transformers computes it (torch 2.13.0, mean
# pooling, L2-normalised): the first eight components, rounded
REFERENCE = {
    "The user owns a golden retriever": [
        0.0254, 0.0263, 0.0454, 0.0037, -0.1056, -0.0374, 0.0699, -0.0025,
    ],
    "what pet do I have": [
        -0.0045, -0.0093, 0.0356, 0.0118, -0.0363, -0.0206, 0.0335, -0.0527,
    ],
    "I moved to Lisbon last year and work at a startup.": [
        0.0525, -0.0367, 0.0725, 0.0247, 0.0095, 0.0379, -0.0578, -0.0141,
    ],
}  # fmt: skip
PET = "The user owns a golden retriever"
OTHERS = (
    "The user works at a startup in Berlin",
    "The user prefers tea over coffee in the morning",
    "The user's sister lives in Lisbon",
    "The user plays the guitar on weekends",
)


@pytest.fixture
async def started(settings: Settings) -> AsyncIterator[Platform]:
    """A started platform without its background backfill: the tests run it themselves."""
    platform = Platform.build(settings)
    platform.memory_backfill = None
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


@pytest.fixture(scope="module")
def embedder() -> MiniLmEmbedder:
    """The process's embedder, its model loaded once per worker."""
    model = default_embedder()
    assert model.available, f"the embedding model is not installed: {model.unavailable_reason}"
    return model


async def _without_backfill(platform: Platform) -> None:
    """Stop the platform's own backfill, which would embed this test's memories meanwhile."""
    if platform.memory_backfill is not None:
        await platform.memory_backfill.stop()


async def test_the_embedder_matches_the_reference_model(embedder: MiniLmEmbedder) -> None:
    vectors = await embedder.embed_array(list(REFERENCE))
    assert vectors.shape == (3, DIMS)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for vector, expected in zip(vectors, REFERENCE.values(), strict=True):
        assert np.allclose(vector[:8], expected, atol=2e-4)
    # one at a time (no padding) gives the same vectors as a padded batch
    alone = await embedder.embed(["what pet do I have"])
    assert np.allclose(alone[0], vectors[1], atol=1e-5)
    assert embedder.model == MODEL
    assert embedder.dims == DIMS


async def test_int8_vectors_keep_the_cosine(embedder: MiniLmEmbedder) -> None:
    vectors = await embedder.embed_array([PET, *OTHERS])
    for vector in vectors:
        blob, scale = quantise(vector)
        restored = np.frombuffer(blob, dtype=np.int8).astype(np.float32) * scale
        assert len(blob) == DIMS
        assert float(restored @ vector) > 0.999


async def test_meaning_is_found_without_a_shared_word(
    started: Platform, embedder: MiniLmEmbedder
) -> None:
    memory, me = started.memory, admin(started)
    assert memory.embedder is embedder
    pet = await memory.save(me, draft(category="facts", content=PET))
    for content in OTHERS:
        await memory.save(me, draft(category="facts", content=content))
    query = "what pet do I have"
    assert [hit.memory.id for hit in await memory.search(me, query, mode="keyword")] == []
    for mode in ("hybrid", "vector"):
        hits = await memory.search(me, query, limit=3, mode=mode)
        assert hits[0].memory.id == pet.id, mode
        assert all(0 <= hit.relevance_score <= 1 for hit in hits)
    # the default mode is the settings' (hybrid)
    assert (await memory.search(me, query, limit=1))[0].memory.id == pet.id
    # expired memories and those the filters leave out are never found by meaning either
    await memory.save(
        me,
        draft(category="facts", content="The user has a pet parrot", expires_at=utcnow()),
    )
    parrot = await memory.save(
        me, draft(category="birds", content="The user has a pet parrot", agent_id="zoo")
    )
    hits = await memory.search(me, query, mode="vector")
    assert [hit.memory.content for hit in hits].count("The user has a pet parrot") == 1
    for narrowed in ({"agent_id": "zoo"}, {"category": "birds"}):
        found = await memory.search(me, query, mode="vector", **narrowed)
        assert [hit.memory.id for hit in found] == [parrot.id]
    # an update of the content is embedded anew
    keyed = await memory.save(me, draft(category="facts", key="k", value="plays the violin"))
    await memory.save(me, draft(category="facts", key="k", value="is allergic to peanuts"))
    allergy = await memory.search(me, "food intolerance", limit=1, mode="vector")
    assert allergy[0].memory.id == keyed.id
    instrument = await memory.search(me, "musical instrument", limit=1, mode="vector")
    assert instrument[0].memory.content == OTHERS[3]
    health = (await started.health.report()).components["memory"]
    assert health.healthy
    assert health.details["embedder"] == MODEL


async def _vectors(platform: Platform) -> int:
    async with platform.database.session() as session:
        count = await session.scalar(select(func.count()).select_from(MemoryEmbeddingRow))
    return int(count or 0)


async def test_deleting_a_memory_deletes_its_vector(
    started: Platform, embedder: MiniLmEmbedder
) -> None:
    memory, me = started.memory, admin(started)
    kept = await memory.save(me, draft(category="facts", content=PET))
    gone = await memory.save(me, draft(category="facts", content=OTHERS[0]))
    cascaded = await memory.save(me, draft(category="facts", content=OTHERS[1]))
    assert await _vectors(started) == 3
    await memory.delete(me, gone.id)
    async with started.database.session() as session:  # as any other writer would
        await session.execute(delete(MemoryRow).where(MemoryRow.id == cascaded.id))
    assert await _vectors(started) == 1
    hits = await memory.search(me, "a dog", mode="vector")
    assert [hit.memory.id for hit in hits] == [kept.id]


async def test_the_backfill_embeds_older_memories(
    started: Platform, embedder: MiniLmEmbedder
) -> None:
    await _without_backfill(started)
    memory, me = started.memory, admin(started)
    now = utcnow()
    rows = [
        {
            "id": new_id("mem"),
            "tenant_id": me.tenant_id,
            "user_id": me.user_id,
            "category": "facts",
            "content": content,
            "value": content,
            "importance": 0.5,
            "tags": [],
            "meta": {},
            "created_at": now,
            "updated_at": now,
            "access_count": 0,
        }
        for content in (PET, *OTHERS)
    ]
    async with started.database.session() as session:  # saved before the embeddings existed
        await session.execute(insert(MemoryRow), rows)
    # one of them holds another model's vector: it is embedded again
    blob, scale = quantise(np.ones(4, dtype=np.float32) / 2)
    async with started.database.session() as session:
        session.add(
            MemoryEmbeddingRow(
                memory_id=rows[1]["id"],
                tenant_id=me.tenant_id,
                user_id=me.user_id,
                model="another-model",
                dims=4,
                scale=scale,
                vector=blob,
                updated_at=now,
            )
        )
    # meanwhile search finds them by their words
    found = await memory.search(me, "golden retriever")
    assert [hit.memory.id for hit in found] == [rows[0]["id"]]
    assert await memory.search(me, "what pet do I have", mode="vector") == []

    first = await memory.backfill_embeddings(batch=2)
    assert (first.embedder, first.available, first.done) == (MODEL, True, 2)
    assert (first.embedded, first.pending) == (2, 3)
    while (progress := await memory.backfill_embeddings(batch=2)).done:
        pass
    assert (progress.embedded, progress.pending) == (5, 0)
    assert await _vectors(started) == 5
    hits = await memory.search(me, "what pet do I have", limit=1, mode="vector")
    assert [hit.memory.id for hit in hits] == [rows[0]["id"]]


async def test_search_stays_keyword_only_without_the_model(
    started: Platform, tmp_path: Path
) -> None:
    await _without_backfill(started)
    me = admin(started)
    missing = MiniLmEmbedder(tmp_path / "no-model")
    memory = MemoryService(started.database, embedder=missing)
    assert not missing.available
    assert memory.embedder is None
    pet = await memory.save(me, draft(category="facts", content=PET))
    for mode in ("hybrid", "keyword", "vector"):
        hits = await memory.search(me, "golden retriever", mode=mode)
        assert [hit.memory.id for hit in hits] == [pet.id], mode
    assert await _vectors(started) == 0
    progress = await memory.backfill_embeddings()
    assert (progress.available, progress.embedded, progress.pending) == (False, 0, 1)


class _Broken:
    model = "broken"
    dims = 3

    async def embed(self, texts: list[str]) -> list[list[float]]:
        raise RuntimeError("the model crashed")


async def test_an_embedder_that_fails_costs_the_meaning_not_the_memory(
    started: Platform,
) -> None:
    await _without_backfill(started)
    me = admin(started)
    memory = MemoryService(started.database, embedder=_Broken())
    pet = await memory.save(me, draft(category="facts", content=PET))
    for mode in ("hybrid", "keyword", "vector"):
        hits = await memory.search(me, "golden retriever", mode=mode)
        assert [hit.memory.id for hit in hits] == [pet.id], mode
