"""Calling one row of the table as each caller, and judging each answer: its status against
the row's access level (`model.verdict`), and its body against what must not reach that
caller (A's objects for anyone else; A's tenant's for another tenant)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tests.reliability.authz.model import (
    PLACEHOLDER,
    Caller,
    Fixed,
    Row,
    callers_of,
    verdict,
)
from tests.reliability.authz.world import MARKER, World

WRITES = ("POST", "PUT", "PATCH")


@dataclass
class Tally:
    """What the matrix checked and what it found."""

    checks: int = 0
    routes: set[tuple[str, str]] = field(default_factory=set)
    callers: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    owner_saw: int = 0  # answers to A holding A's marker: what is looked for can be seen

    def record(self, what: str, caller: Caller, problem: str | None) -> None:
        self.checks += 1
        self.callers.add(caller.value)
        if problem is not None:
            self.failures.append(f"{what} as {caller.value}: {problem}")


async def _fill(world: World, value: Any) -> Any:
    """`"{kind}"` in strings, lists and objects replaced by the id of A's object of that kind."""
    if isinstance(value, str):
        for kind in PLACEHOLDER.findall(value):
            value = value.replace("{" + kind + "}", await world.object(kind))
        return value
    if isinstance(value, list):
        return [await _fill(world, item) for item in value]
    if isinstance(value, dict):
        return {key: await _fill(world, item) for key, item in value.items()}
    return value


async def _path(world: World, row: Row) -> str:
    path = row.path
    for name in row.parameters:
        source = row.params.get(name)
        assert source is not None, f"{row}: no object declared for {{{name}}}; add it to params"
        value = source.value if isinstance(source, Fixed) else await world.object(source)
        path = re.sub(r"\{" + re.escape(name) + r"(?::[^}]*)?\}", value, path)
    return path


async def call(world: World, row: Row, caller: Caller) -> tuple[int, str, str]:
    """(status, body, what was sent) of the row called as `caller`; a stream's body is not
    read (its status and headers came back)."""
    allowed_fresh = row.fresh_credential and caller is not Caller.ANONYMOUS
    headers = await world.credential(row.dialect, caller, fresh=allowed_fresh)
    path = await _path(world, row)
    query = await _fill(world, row.query)
    body = await _fill(world, row.body)
    if body is None and row.method in WRITES:
        body = {}
    async with world.client.stream(
        row.method, path, params=query, json=body, headers=headers
    ) as response:
        streaming = response.headers.get("content-type", "").startswith("text/event-stream")
        text = "" if streaming else (await response.aread()).decode(errors="replace")
    return response.status_code, text, path + json.dumps(query) + json.dumps(body)


def leaks(world: World, row: Row, caller: Caller, text: str, sent: str) -> str | None:
    """What of A's (or A's tenant's) reached a caller it must not reach, beyond what the
    caller itself sent (in this request; in any earlier one, for a log of its requests)."""
    if caller in (Caller.USER_A, Caller.ADMIN, Caller.ANONYMOUS):
        return None
    secret = set(world.private)
    if caller is Caller.OTHER_ADMIN:
        secret |= world.shared
    echoed = world.sent_by.setdefault(caller, set())
    echoed |= {s for s in secret if s in sent}
    seen = sorted(s for s in secret if s in text and s not in (echoed if row.echoes else sent))
    return f"the answer holds A's {seen}" if seen else None


async def run_row(world: World, row: Row, tally: Tally) -> None:
    tally.routes.add(row.key)
    for caller in callers_of(row):
        status, text, sent = await call(world, row, caller)
        if caller is Caller.USER_A and MARKER in text:
            tally.owner_saw += 1
        if status < 300:
            world.spent(row.spends)  # the next caller (and row) gets an object of its own
        problem = verdict(row, caller, status)
        leaked = leaks(world, row, caller, text, sent)
        problem = problem or leaked
        if problem is not None and text:
            problem += f" — {text[:300]}"
        tally.record(str(row) + (f" {row.query}" if row.query else ""), caller, problem)
