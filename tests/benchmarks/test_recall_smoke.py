"""The recall benchmark at its smallest size, and its data set: complete, consistent, current.

No timing or quality threshold is asserted: recall values only have to be shares (0..1).
"""

from __future__ import annotations

import json
import math

import pytest
from bench import recall, recall_data
from bench.__main__ import BENCHMARKS
from rich.table import Table


def test_the_committed_data_set_is_what_the_script_builds() -> None:
    assert recall_data.PATH.read_text(encoding="utf-8") == recall_data.dump(recall_data.build())


def test_the_data_set_has_the_promised_shape() -> None:
    data = json.loads(recall_data.PATH.read_text(encoding="utf-8"))
    users = data["users"]
    assert len(users) == 10
    turns = {t["id"] for u in users for s in u["sessions"] for t in s["turns"]}
    assert 2000 <= len(turns) <= 4000
    for user in users:
        assert 6 <= len(user["sessions"]) <= 15
        assert all(10 <= len(s["turns"]) <= 30 for s in user["sessions"])
        assert 15 <= len(user["questions"]) <= 30
        own = {t["id"] for s in user["sessions"] for t in s["turns"]}
        for question in user["questions"]:
            assert question["evidence"]
            assert set(question["evidence"]) <= own
    questions = [q for u in users for q in u["questions"]]
    # most questions are paraphrases: no content word in common with their evidence
    assert sum(1 for q in questions if not q["overlap"]) > len(questions) / 2


def test_the_benchmark_runs_at_its_smallest_size() -> None:
    outcome = recall.evaluate(users=1)
    assert outcome.users == 1
    assert outcome.questions > 0
    ran = [row for row in outcome.rows if row.available]
    assert ran[0].label == recall.BASELINE
    assert len(ran) >= 2  # the baseline and at least the service's keyword search
    for row in ran:
        assert len(row.recalls) == outcome.questions
        assert all(0.0 <= value <= 1.0 for value in row.recalls)
        assert not math.isnan(row.recall)
        assert 0.0 <= row.recall <= 1.0
    if recall.supported_modes():
        assert {row.label for row in ran} >= {"keyword", "hybrid"}


def test_make_bench_runs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BENCHMARKS["recall"] is recall
    monkeypatch.setenv("MENAGERIE_BENCH_RECALL_USERS", "1")
    assert isinstance(recall.run(), Table)
