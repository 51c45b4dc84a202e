"""The memories page's API: the caller's memories newest first or searched (with each
result's relevance), their categories, a memory's importance changed, deletion and pruning.

Every call goes through `platform.memory`, which scopes it to the caller: their own memories,
or their tenant's for an admin; another tenant's memory is answered as a missing one (404).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from menagerie.core.clock import iso, utcnow
from menagerie.core.memory.models import Memory
from menagerie.web.console.deps import ConsolePrincipalDep, PlatformDep
from menagerie.web.console.schemas.common import Deleted
from menagerie.web.console.schemas.memories import (
    CategoryList,
    CategoryOut,
    MemoryChange,
    MemoryOut,
    MemoryPage,
    Pruned,
    PruneIn,
)

router = APIRouter(tags=["memories"])

Category = Annotated[str | None, Query(max_length=64)]


def memory_out(memory: Memory, relevance: float | None = None) -> MemoryOut:
    return MemoryOut(
        id=memory.id,
        category=memory.category,
        key=memory.key,
        content=memory.content,
        importance=round(memory.importance, 4),
        tags=list(memory.tags),
        agent_id=memory.agent_id,
        session_id=memory.session_id,
        user_id=memory.user_id,
        context=memory.context,
        created_at=iso(memory.created_at) or "",
        updated_at=iso(memory.updated_at) or "",
        expires_at=iso(memory.expires_at),
        relevance=None if relevance is None else round(relevance, 4),
    )


@router.get("/memories", response_model=MemoryPage)
async def memories(
    platform: PlatformDep,
    principal: ConsolePrincipalDep,
    q: Annotated[str | None, Query(max_length=500)] = None,
    category: Category = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> MemoryPage:
    """Newest first, a page at a time; with `q`, the best `limit` answers to it instead."""
    category = category.strip() if category and category.strip() else None
    query = q.strip() if q and q.strip() else None
    if query is not None:
        found = await platform.memory.search(principal, query, category=category, limit=limit)
        return MemoryPage(
            memories=[memory_out(hit.memory, hit.relevance_score) for hit in found],
            total=len(found),
            limit=limit,
            offset=0,
            query=query,
        )
    listed = await platform.memory.list(principal, category=category, limit=limit, offset=offset)
    total = await platform.memory.count(principal, categories=[category] if category else None)
    return MemoryPage(
        memories=[memory_out(m) for m in listed],
        total=total,
        limit=limit,
        offset=offset,
        query=None,
    )


@router.get("/memory/categories", response_model=CategoryList)
async def categories(platform: PlatformDep, principal: ConsolePrincipalDep) -> CategoryList:
    found = await platform.memory.categories(principal)
    return CategoryList(categories=[CategoryOut(name=c.category, count=c.count) for c in found])


@router.post("/memory/prune", response_model=Pruned)
async def prune(body: PruneIn, platform: PlatformDep, principal: ConsolePrincipalDep) -> Pruned:
    """The caller's expired memories, and those matching every filter given."""
    older_than = None
    if body.older_than_days is not None:
        older_than = utcnow() - timedelta(days=body.older_than_days)
    removed = await platform.memory.prune(
        principal,
        older_than=older_than,
        importance_less_than=body.importance_below,
        category=body.category.strip() if body.category else None,
    )
    return Pruned(removed=removed)


@router.get("/memories/{memory_id}", response_model=MemoryOut)
async def memory(
    memory_id: str, platform: PlatformDep, principal: ConsolePrincipalDep
) -> MemoryOut:
    return memory_out(await platform.memory.get(principal, memory_id))


@router.patch("/memories/{memory_id}", response_model=MemoryOut)
async def change(
    memory_id: str, body: MemoryChange, platform: PlatformDep, principal: ConsolePrincipalDep
) -> MemoryOut:
    return memory_out(await platform.memory.set_importance(principal, memory_id, body.importance))


@router.delete("/memories/{memory_id}", response_model=Deleted)
async def delete(memory_id: str, platform: PlatformDep, principal: ConsolePrincipalDep) -> Deleted:
    await platform.memory.delete(principal, memory_id)
    return Deleted()
