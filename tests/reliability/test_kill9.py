"""Nothing acknowledged is lost under kill -9 (issue 18, durability).

Four writers send marked writes to a real `menagerie serve` process (its own data directory;
SQLite, and a fresh PostgreSQL database of its own): messages appended to a MADACE session,
MADACE session memories, PodPlay memories, and PodPlay chat turns (the offline model, no
delay). Once a random number of them were acknowledged the server is SIGKILLed, with others
in flight, and restarted on the same database. After each restart, and once more over every
round at the end, each write is read back through the APIs by its marker:

- every acknowledged write (a 2xx answer received) is there, exactly once;
- a write in flight at the kill is there once or not at all, never twice; one that never
  reached the server (no connection) is not there;
- a turn is its question, then its answer as a reply to it: an acknowledged turn has both,
  an interrupted one may have its question alone (the documented order: the question is
  stored before the model is called), never an answer without its question;
- each session's message count (a counter kept beside the messages) equals its messages;
- SQLite: `PRAGMA integrity_check` is `ok` and `foreign_key_check` empty after every
  restart (the killed server's write-ahead log recovered by the next one), and after the
  final graceful stop the log is checkpointed away. PostgreSQL: amcheck verifies every
  B-tree index of the schema, and every heap row is in its indexes.

`MENAGERIE_KILL_ROUNDS` sets the rounds per engine (2 by default; CI's reliability step runs
100), `MENAGERIE_KILL_SEED` replays a run's random choices, `MENAGERIE_KILL_EXEC=1` starts
each server by running the `menagerie` command anew instead of forking it from a process that
imported it once (same code from `menagerie serve` on, a restart 10x slower on a loaded
machine), and `MENAGERIE_RELIABILITY_DIR`, when set, receives `kill9-<engine>.json` with the
figures. Nothing here asserts a timing.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import sqlite3
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.reliability.kill9 import (
    AUTH,
    KINDS,
    MENAGERIE,
    MIN_ACKED_PER_ROUND,
    REQUEST_TIMEOUT,
    Kind,
    Ledger,
    Outcome,
    Round,
    Server,
    Write,
    Writers,
    open_round,
    server_environment,
)

pytestmark = pytest.mark.skipif(MENAGERIE is None, reason="the menagerie command is not installed")

ROUNDS = max(1, int(os.environ.get("MENAGERIE_KILL_ROUNDS", "2")))
# each start runs the `menagerie` command anew, imports and all (slower), instead of a fork
EXEC_EACH_START = os.environ.get("MENAGERIE_KILL_EXEC", "") not in ("", "0")
MARKER = re.compile(r"k9-\d{4}-\d+-\d{3}")
MADACE = "/madace/api/v3/chat/sessions"
WRITERS_DEADLINE_S = 120.0


@dataclass
class Found:
    """One round's writes as read back: each kind's markers with how often each was seen."""

    by_kind: dict[Kind, Counter[str]] = field(
        default_factory=lambda: {kind: Counter() for kind in KINDS}
    )
    answers: Counter[str] = field(default_factory=Counter)  # a turn's marker: its answers
    problems: list[str] = field(default_factory=list)


@dataclass
class Tally:
    engine: str
    rounds: int
    seed: int
    writes_sent: int = 0
    acknowledged: int = 0
    found: int = 0
    lost: int = 0
    duplicated: int = 0
    in_flight: int = 0
    in_flight_stored: int = 0
    turns_question_only: int = 0
    undelivered: int = 0
    refused: int = 0
    wal_recoveries: int = 0
    integrity: str = "unchecked"
    seconds: float = 0.0
    seconds_starting: float = 0.0  # of `seconds`: the restarts, from spawn to first answer
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"kill9 {self.engine}: {self.rounds} rounds, {self.writes_sent} writes sent, "
            f"{self.acknowledged} acknowledged, {self.found} found, {self.lost} lost, "
            f"{self.duplicated} duplicated, {self.in_flight} in flight at a kill "
            f"({self.in_flight_stored} stored, {self.turns_question_only} of them a turn's "
            f"question alone), integrity {self.integrity}, "
            f"{self.seconds:.1f} s ({self.seconds / self.rounds:.2f} s a round, "
            f"{self.seconds_starting:.1f} s of it starting the server)"
        )


async def _get(http: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await http.get(path, params=params)
    assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
    return dict(response.json())


def _markers(text: object, round_: Round) -> list[str]:
    return [m for m in MARKER.findall(str(text)) if m.startswith(round_.prefix)]


async def _messages(http: httpx.AsyncClient, session_id: str, found: Found) -> list[Any]:
    """A session's messages (one page: a round writes fewer than 200), checked against the
    session's own message count."""
    page = await _get(http, f"{MADACE}/{session_id}/messages", limit=200)
    session = (await _get(http, f"{MADACE}/{session_id}"))["session"]
    messages = list(page["messages"])
    if page["hasMore"] or page["total"] != len(messages):
        found.problems.append(f"session {session_id}: {page['total']} messages, not one page")
    if session["messageCount"] != len(messages):
        found.problems.append(
            f"session {session_id}: messageCount {session['messageCount']} "
            f"but {len(messages)} messages stored"
        )
    return messages


async def read_back(http: httpx.AsyncClient, round_: Round) -> Found:
    found = Found()
    for message in await _messages(http, round_.session_id, found):
        found.by_kind["message"].update(_markers(message["content"], round_))
    memory = await _get(http, f"{MADACE}/{round_.session_id}/memory", category="kill9", limit=200)
    for item in memory["memory"]:
        found.by_kind["memory"].update(_markers(item["key"], round_))
    podplay = await _get(
        http, "/podplay/api/chat/memories", user_id=round_.user, category="kill9", limit=200
    )
    for item in podplay["memories"]:
        found.by_kind["podplay_memory"].update(_markers(item["content"], round_))
    # a turn: its question (the user's message), then the answer replying to it
    turn_messages = await _messages(http, round_.turn_session_id, found)
    questions: dict[str, str] = {}
    for message in turn_messages:
        if message["role"] == "user":
            for marker in _markers(message["content"], round_):
                questions[message["id"]] = marker
                found.by_kind["turn"][marker] += 1
    for message in turn_messages:
        if message["role"] == "user":
            continue
        if message["replyToId"] not in questions:
            found.problems.append(f"round {round_.index}: an answer without its question")
        else:
            found.answers[questions[message["replyToId"]]] += 1
    return found


def check(ledger: Ledger, round_: Round, found: Found, tally: Tally | None = None) -> list[str]:
    """What is wrong with a round's writes as found; with `tally`, counts the figures."""
    problems = list(found.problems)
    writes = {write.marker: write for write in ledger.of(round_)}
    for kind, counter in found.by_kind.items():
        for marker in counter:
            if marker not in writes or writes[marker].kind != kind:
                problems.append(f"{marker}: found as a {kind} but never sent as one")
    for write in writes.values():
        seen = found.by_kind[write.kind][write.marker]
        answers = found.answers[write.marker]
        what = f"{write.marker} ({write.kind}, {write.outcome} {write.detail})".strip()
        if seen > 1 or answers > 1:
            problems.append(f"{what}: stored {seen} times, {answers} answers")
        if write.outcome == "acked" and (seen == 0 or (write.kind == "turn" and answers != 1)):
            problems.append(f"{what}: acknowledged but not found ({seen}, {answers} answers)")
        if write.outcome == "undelivered" and seen:
            problems.append(f"{what}: never reached the server, yet stored")
        if write.outcome in ("refused", "pending"):
            problems.append(f"{what}: a write the server should have acknowledged")
        if tally is None:
            continue
        tally.writes_sent += write.outcome != "undelivered"
        tally.acknowledged += write.outcome == "acked"
        whole = seen > 0 and (write.kind != "turn" or answers > 0)  # a turn: with its answer
        tally.found += write.outcome == "acked" and whole
        tally.lost += write.outcome == "acked" and not whole
        tally.duplicated += seen > 1 or answers > 1
        tally.in_flight += write.outcome == "in_flight"
        tally.in_flight_stored += write.outcome == "in_flight" and seen > 0
        tally.turns_question_only += write.kind == "turn" and seen > 0 and answers == 0
        tally.undelivered += write.outcome == "undelivered"
        tally.refused += write.outcome == "refused"
        counts = tally.by_kind.setdefault(write.kind, {"acknowledged": 0, "found": 0})
        counts["acknowledged"] += write.outcome == "acked"
        counts["found"] += write.outcome == "acked" and whole
    return problems


def sqlite_path(database_url: str) -> Path | None:
    return Path(database_url.split("///", 1)[1]) if database_url.startswith("sqlite") else None


def sqlite_integrity(path: Path) -> str:
    """`ok`, or what integrity_check and foreign_key_check say is wrong."""
    connection = sqlite3.connect(path, timeout=60)
    try:
        rows = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        orphans = connection.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        connection.close()
    if rows != ["ok"]:
        return "; ".join(map(str, rows[:10]))
    return f"foreign keys broken: {orphans[:10]}" if orphans else "ok"


async def postgres_integrity(database_url: str) -> str:
    """amcheck on every B-tree index of the schema, heap rows included; `ok` or the error."""
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        indexes = await connection.fetch(
            "SELECT c.oid, c.relname FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_am am ON am.oid = c.relam"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE am.amname = 'btree' AND n.nspname = 'public'"
        )
        for index in indexes:
            await connection.execute("SELECT bt_index_check($1::oid::regclass, true)", index["oid"])
    except asyncpg.PostgresError as error:
        return f"{type(error).__name__}: {error}"
    finally:
        await connection.close()
    return "ok" if indexes else "no indexes found"


async def _verify_round(server: Server, ledger: Ledger, database_url: str) -> None:
    """After a restart: the last round's writes, and SQLite's file, as they must be."""
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=AUTH, timeout=REQUEST_TIMEOUT
    ) as http:
        round_ = ledger.rounds[-1]
        problems = check(ledger, round_, await read_back(http, round_))
    path = sqlite_path(database_url)
    if path is not None and (integrity := sqlite_integrity(path)) != "ok":
        problems.append(f"after round {round_.index}: {integrity}")
    assert not problems, "\n".join(problems[:30]) + f"\n{server.log_tail()}"


async def _round(server: Server, ledger: Ledger, index: int, rng: random.Random) -> None:
    """One round: open its sessions, write, SIGKILL once enough writes were acknowledged."""
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=AUTH, timeout=REQUEST_TIMEOUT
    ) as http:
        round_ = await open_round(http, index)
        ledger.rounds.append(round_)
        writers = Writers(http, ledger, round_, rng)
        writing = asyncio.create_task(writers.run())
        kill_time = asyncio.create_task(writers.time_to_kill.wait())
        await asyncio.wait(
            {writing, kill_time}, timeout=WRITERS_DEADLINE_S, return_when=asyncio.FIRST_COMPLETED
        )
        kill_time.cancel()
        try:
            await server.kill()  # the writers' requests in flight break here
        finally:
            writers.stop.set()
            await asyncio.wait_for(writing, WRITERS_DEADLINE_S)


def _publish(tally: Tally) -> None:
    folder = os.environ.get("MENAGERIE_RELIABILITY_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        summary = Path(folder) / f"kill9-{tally.engine}.json"
        summary.write_text(json.dumps(asdict(tally), indent=2) + "\n")


async def test_acknowledged_writes_survive_kill9(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    seed = int(os.environ.get("MENAGERIE_KILL_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    tally = Tally(engine, ROUNDS, seed)
    ledger = Ledger()
    env = server_environment(tmp_path / "data", database_url)
    server = Server(env, tmp_path, exec_each_start=EXEC_EACH_START)
    path = sqlite_path(database_url)
    started = time.monotonic()
    try:
        for index in range(ROUNDS):
            await server.start()
            if ledger.rounds:
                await _verify_round(server, ledger, database_url)
            await _round(server, ledger, index, rng)
            wal = path.with_name(path.name + "-wal") if path else None
            tally.wal_recoveries += wal is not None and wal.exists() and wal.stat().st_size > 0

        await server.start()
        await _verify_round(server, ledger, database_url)
        problems: list[str] = []
        async with httpx.AsyncClient(
            base_url=server.base_url, headers=AUTH, timeout=REQUEST_TIMEOUT
        ) as http:
            for round_ in ledger.rounds:  # every round again, from the last restart
                problems += check(ledger, round_, await read_back(http, round_), tally)
        code = await server.stop()
        assert code in (0, -signal.SIGTERM), f"exit status {code}:\n{server.log_tail()}"
    finally:
        await server.close()
    tally.seconds = round(time.monotonic() - started, 1)
    tally.seconds_starting = round(server.seconds_starting, 1)

    if path is not None:
        tally.integrity = sqlite_integrity(path)
        # the graceful stop checkpointed the log the kills left: nothing left to recover
        assert not path.with_name(path.name + "-wal").exists(), "the WAL was not checkpointed"
        assert tally.wal_recoveries > 0, "no kill left a write-ahead log to recover"
    else:
        tally.integrity = await postgres_integrity(database_url)
    _publish(tally)
    with capsys.disabled():
        print(f"\n{tally.line()} (seed {seed})")

    assert not problems, "\n".join(problems[:30])
    assert tally.integrity == "ok", tally.integrity
    assert (tally.lost, tally.duplicated, tally.refused) == (0, 0, 0), tally
    assert tally.found == tally.acknowledged >= MIN_ACKED_PER_ROUND * ROUNDS
    assert server.starts >= ROUNDS + 1


def test_the_check_finds_what_it_must() -> None:
    """The read-back's verdicts, on a ledger and findings made up for them (no server)."""
    round_ = Round(7, "u", "s", "t", "ts")
    ledger = Ledger(rounds=[round_])
    sent: list[tuple[Kind, Outcome]] = [
        ("message", "acked"),  # k9-0007-0-000: lost
        ("memory", "acked"),  # k9-0007-0-001: stored twice
        ("turn", "acked"),  # k9-0007-0-002: question without its answer
        ("turn", "in_flight"),  # k9-0007-0-003: question alone: allowed
        ("podplay_memory", "undelivered"),  # k9-0007-0-004: stored though never sent
        ("message", "in_flight"),  # k9-0007-0-005: absent: allowed
    ]
    for n, (kind, outcome) in enumerate(sent):
        ledger.writes.append(Write(7, kind, f"k9-0007-0-{n:03d}", outcome))
    found = Found()
    found.by_kind["memory"]["k9-0007-0-001"] = 2
    found.by_kind["turn"].update(["k9-0007-0-002", "k9-0007-0-003"])
    found.by_kind["podplay_memory"]["k9-0007-0-004"] = 1
    found.by_kind["message"]["k9-0007-0-099"] = 1
    tally = Tally("test", 1, 0)
    problems = check(ledger, round_, found, tally)
    assert len(problems) == 5, problems
    for marker, says in [
        ("000", "acknowledged but not found"),
        ("001", "stored 2 times"),
        ("002", "acknowledged but not found (1, 0 answers)"),
        ("004", "never reached the server"),
        ("099", "never sent"),
    ]:
        assert any(f"k9-0007-0-{marker}" in p and says in p for p in problems), (marker, problems)
    assert (tally.lost, tally.duplicated, tally.turns_question_only) == (2, 1, 2)
    assert (tally.acknowledged, tally.found, tally.in_flight, tally.undelivered) == (3, 1, 2, 1)
