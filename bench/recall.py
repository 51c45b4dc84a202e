"""Memory search quality: evidence recall@10 on long multi-session conversations.

The set is `bench/data/recall.json` (built by `bench/recall_data.py`): ten people, each with
8-13 sessions of user turns, and questions whose evidence turns are known. Every user turn
is saved as one memory of its person (`MemoryService.save`, category `context`, the turn's
id in the metadata); then every question is searched with `limit=10` in each mode the
service offers (`keyword`, `vector`, `hybrid`). A question's recall@10 is the share of its
evidence turns among the ten results; the table shows the mean over all questions, the
mean over those that share no content word with their evidence (paraphrases) and over
those that do, and search latency.

Baseline, measured in the same run on the same turns: Okapi BM25 (k1 1.2, b 0.75, plain
lower-case words, no stemming, no stop words) computed in this process over each person's
turns, the textbook keyword ranking the issue's reference numbers use. The goal is 0.70.

A search that raises fails the benchmark. The mode is passed to `search(mode=...)` where it
takes one, else given to a service per mode (`MemoryService(..., search_mode=...)`). Modes
the service does not offer yet (neither, or no embedder with its model installed) are shown
as "not available".

`MENAGERIE_BENCH_RECALL_USERS=2` runs the first two people only, for a quick look.
`MENAGERIE_BENCH_RECALL_EMBEDDER=module:factory` names the embedder to use (called without
arguments); by default the one `menagerie.core.memory.embedding` offers.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import math
import os
import re
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from menagerie.core.identity.models import Principal
from menagerie.core.memory.models import MemoryDraft
from menagerie.core.memory.service import MemoryService
from menagerie.platform import Platform
from menagerie.settings import Settings

TITLE = "Memory search quality: evidence recall@10"
DATA = Path(__file__).parent / "data" / "recall.json"
MODES = ("keyword", "vector", "hybrid")
LIMIT = 10
GOAL = 0.70
BASELINE = "BM25 (reference)"
_WORD = re.compile(r"[\w']+", re.UNICODE)


@dataclass
class ModeResult:
    """One row: recall per question and latency per search, or why it did not run."""

    label: str
    available: bool = True
    note: str = ""
    recalls: list[float] = field(default_factory=list)
    paraphrase: list[float] = field(default_factory=list)  # no content word shared
    shared: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, question: dict[str, Any], recall: float, elapsed_ms: float) -> None:
        self.recalls.append(recall)
        (self.shared if question["overlap"] else self.paraphrase).append(recall)
        self.by_kind.setdefault(question["kind"], []).append(recall)
        self.latencies_ms.append(elapsed_ms)

    @property
    def recall(self) -> float:
        return statistics.fmean(self.recalls) if self.recalls else float("nan")


@dataclass
class Outcome:
    rows: list[ModeResult]
    users: int
    turns: int
    questions: int
    embedder: str


def load(users: int | None = None) -> list[dict[str, Any]]:
    people = json.loads(DATA.read_text(encoding="utf-8"))["users"]
    return people[:users] if users else people


def _tokens(text: str) -> list[str]:
    return [w.strip("'") for w in _WORD.findall(text.lower()) if w.strip("'")]


class BM25:
    """Okapi BM25 over one person's turns: the baseline keyword ranking."""

    def __init__(self, documents: dict[str, str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs = {doc_id: Counter(_tokens(text)) for doc_id, text in documents.items()}
        self.lengths = {doc_id: sum(terms.values()) for doc_id, terms in self.docs.items()}
        self.average = statistics.fmean(self.lengths.values()) if self.docs else 0.0
        frequency: Counter[str] = Counter()
        for terms in self.docs.values():
            frequency.update(terms.keys())
        count = len(self.docs)
        self.idf = {t: math.log(1 + (count - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}

    def search(self, query: str, limit: int) -> list[str]:
        words = set(_tokens(query))
        scored = []
        for doc_id, terms in self.docs.items():
            norm = self.k1 * (1 - self.b + self.b * self.lengths[doc_id] / self.average)
            score = sum(
                self.idf[w] * terms[w] * (self.k1 + 1) / (terms[w] + norm)
                for w in words
                if w in terms
            )
            if score > 0:
                scored.append((-score, doc_id))
        return [doc_id for _, doc_id in sorted(scored)[:limit]]


def supported_modes() -> tuple[str, ...]:
    """The modes the service offers: none when neither `search` takes a `mode` nor the
    service a `search_mode`."""
    if "mode" in inspect.signature(MemoryService.search).parameters:
        return MODES
    if "search_mode" in inspect.signature(MemoryService.__init__).parameters:
        return MODES
    return ()


def _per_call_mode() -> bool:
    return "mode" in inspect.signature(MemoryService.search).parameters


def find_embedder() -> tuple[Any | None, str]:
    """The embedder to give the service, and its name or why there is none."""
    named = os.environ.get("MENAGERIE_BENCH_RECALL_EMBEDDER")
    if named:
        module_name, _, attribute = named.partition(":")
        factory = getattr(importlib.import_module(module_name), attribute)
        embedder = factory()
        return embedder, f"{named} ({type(embedder).__name__})"
    try:
        module = importlib.import_module("menagerie.core.memory.embedding")
    except ImportError:
        return None, "none (menagerie.core.memory.embedding does not exist yet)"
    for name in ("default_embedder", "build_embedder", "make_embedder", "local_embedder"):
        factory = getattr(module, name, None)
        if callable(factory):
            embedder = factory()
            return embedder, f"{module.__name__}.{name}() ({type(embedder).__name__})"
    for name, member in vars(module).items():
        if (
            inspect.isclass(member)
            and member.__module__ == module.__name__
            and inspect.iscoroutinefunction(getattr(member, "embed", None))
        ):
            try:
                embedder = member()
            except TypeError:
                continue
            return embedder, f"{module.__name__}.{name}"
    return None, f"none ({module.__name__} offers no embedder constructible without arguments)"


def _recall(evidence: list[str], found: list[str]) -> float:
    return len(set(evidence) & set(found)) / len(evidence)


async def _evaluate(data_dir: Path, people: list[dict[str, Any]]) -> Outcome:
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'recall.db'}",
        log_level="WARNING",
        local_model="off",  # memory search needs no chat model; never build one per run
        _env_file=None,
    )
    platform = Platform.build(settings)
    await platform.start()
    try:
        assert platform.bootstrap_result is not None
        tenant = platform.bootstrap_result.tenant_id
        modes = supported_modes()
        embedder, embedder_name = find_embedder() if modes else (None, "not looked for")
        service = MemoryService(platform.database, embedder=embedder)
        # the mode per search where `search` takes one, else one service per mode
        services = {key: service for key in ("default", *MODES)}
        if modes and not _per_call_mode():
            for mode in MODES:
                services[mode] = MemoryService(
                    platform.database, embedder=embedder, search_mode=mode
                )
        if embedder is not None and not getattr(embedder, "available", True):
            embedder_name += " (its model is not installed)"
            embedder = None
        baseline = ModeResult(BASELINE)
        rows: dict[str, ModeResult] = {}
        if modes:
            for mode in MODES:
                rows[mode] = ModeResult(mode)
            if embedder is None:
                rows["vector"] = ModeResult("vector", False, "not available: no embedder")
        else:
            rows["default"] = ModeResult("keyword", note="no `mode` yet")
            for mode in ("vector", "hybrid"):
                rows[mode] = ModeResult(mode, False, "not available: search takes no `mode`")
        turns = questions = 0
        for person in people:
            principal = Principal(tenant, f"bench-recall-{person['id']}", frozenset())
            texts: dict[str, str] = {}
            for session in person["sessions"]:
                for turn in session["turns"]:
                    texts[turn["id"]] = turn["text"]
                    draft = MemoryDraft(
                        category="context", content=turn["text"], metadata={"turn": turn["id"]}
                    )
                    await service.save(principal, draft)
            turns += len(texts)
            bm25 = BM25(texts)
            for question in person["questions"]:
                questions += 1
                started = time.perf_counter()
                found = bm25.search(question["question"], LIMIT)
                elapsed = (time.perf_counter() - started) * 1000
                baseline.add(question, _recall(question["evidence"], found), elapsed)
                for key, row in rows.items():
                    if not row.available:
                        continue
                    extra = {"mode": key} if key != "default" and _per_call_mode() else {}
                    started = time.perf_counter()
                    try:
                        results = await services[key].search(
                            principal, question["question"], limit=LIMIT, **extra
                        )
                    except Exception as exc:
                        raise RuntimeError(
                            f"search failed ({row.label}) for {question['id']} "
                            f"{question['question']!r}: {exc!r}"
                        ) from exc
                    elapsed = (time.perf_counter() - started) * 1000
                    found = [str(r.memory.metadata.get("turn")) for r in results]
                    row.add(question, _recall(question["evidence"], found), elapsed)
        return Outcome([baseline, *rows.values()], len(people), turns, questions, embedder_name)
    finally:
        await platform.stop()


def evaluate(users: int | None = None) -> Outcome:
    """Run the whole evaluation (the first `users` people only, when given)."""
    people = load(users)
    with tempfile.TemporaryDirectory(prefix="menagerie-bench-recall-") as tmp:
        return asyncio.run(_evaluate(Path(tmp), people))


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _mean(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f}" if values else "-"


def run() -> Table:
    users = int(os.environ.get("MENAGERIE_BENCH_RECALL_USERS", "0")) or None
    outcome = evaluate(users)
    baseline = outcome.rows[0]
    kinds = sorted({kind for row in outcome.rows for kind in row.by_kind})
    table = Table(
        title=f"{TITLE}: {outcome.users} people, {outcome.turns:,} turns, "
        f"{outcome.questions} questions (goal {GOAL:.2f})",
        caption=f"embedder: {outcome.embedder}. 'no shared word': questions sharing no "
        "content word with their evidence; BM25 is computed in this process on the same "
        "turns.",
    )
    table.add_column("search")
    table.add_column("recall@10", justify="right")
    table.add_column("vs BM25", justify="right")
    table.add_column("goal", justify="right")
    table.add_column("no shared word", justify="right")
    table.add_column("shared word", justify="right")
    for kind in kinds:
        table.add_column(kind, justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    for row in outcome.rows:
        if not row.available:
            table.add_row(row.label, f"[dim]{row.note}[/dim]")
            continue
        met = row.recall >= GOAL
        label = row.label if not row.note else f"{row.label} [dim]({row.note})[/dim]"
        table.add_row(
            label,
            f"[{'green' if met else 'red'}]{row.recall:.3f}[/]",
            "-" if row is baseline else f"{row.recall - baseline.recall:+.3f}",
            "met" if met else "missed",
            _mean(row.paraphrase),
            _mean(row.shared),
            *(_mean(row.by_kind.get(kind, [])) for kind in kinds),
            f"{statistics.median(row.latencies_ms):.2f}",
            f"{_percentile(row.latencies_ms, 0.95):.2f}",
        )
    return table
