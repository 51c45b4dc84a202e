"""The memories page: a caller's memories (listed or searched), their categories, an
importance changed, and what a prune removed."""

from __future__ import annotations

from pydantic import Field

from menagerie.web.console.schemas.common import Wire


class MemoryOut(Wire):
    id: str
    category: str
    key: str | None
    content: str
    importance: float  # 0..1
    tags: list[str]
    agent_id: str | None
    session_id: str | None
    user_id: str  # whose it is (an admin sees every memory of the tenant)
    context: str | None
    created_at: str
    updated_at: str
    expires_at: str | None
    relevance: float | None = None  # 0..1, for a search's results only


class MemoryPage(Wire):
    """Newest first; a search answers its best `limit` results, best first, with `total`
    the number of results."""

    memories: list[MemoryOut]
    total: int
    limit: int
    offset: int
    query: str | None  # the search, when the page answers one


class CategoryOut(Wire):
    name: str
    count: int


class CategoryList(Wire):
    categories: list[CategoryOut]


class MemoryChange(Wire):
    importance: float = Field(ge=0.0, le=1.0)


class PruneIn(Wire):
    """Expired memories are always removed; with filters, also those matching all of them."""

    importance_below: float | None = Field(None, gt=0.0, le=1.0)
    older_than_days: int | None = Field(None, ge=1, le=36_500)
    category: str | None = Field(None, min_length=1, max_length=64)


class Pruned(Wire):
    removed: int
