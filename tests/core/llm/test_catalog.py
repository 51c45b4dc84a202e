"""The catalogue: built-in entries, the seed-format file, bad entries skipped with a reason."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from menagerie.core.llm.catalog import BUILTIN, Catalog, load_catalog_file


def test_builtin_covers_every_provider() -> None:
    providers = {m.provider for m in BUILTIN}
    assert {"offline", "openai", "anthropic", "gemini", "together", "ollama"} <= providers
    ids = [m.model_id for m in BUILTIN]
    assert len(ids) == len(set(ids))


def test_file_in_seed_format_adds_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "models_catalog.json").write_text(
        json.dumps(
            {
                "custom-model": {
                    "provider": "custom",
                    "displayName": "Custom Model",
                    "description": "Custom AI model integration",
                    "capabilities": ["text", "reasoning", "vision"],
                },
                "gpt-4o": {
                    "provider": "openai",
                    "displayName": "GPT-4o (our price)",
                    "costPer1kTokens": 1.5,
                    "contextWindow": 64000,
                    "performanceTier": "high",
                },
            }
        )
    )
    catalog = Catalog.build(tmp_path)
    custom = catalog.get("custom-model")
    assert custom is not None
    assert custom.display_name == "Custom Model"
    assert custom.capabilities == frozenset({"text", "reasoning", "images"})  # vision → images
    gpt = catalog.get("gpt-4o")
    assert gpt is not None
    assert gpt.display_name == "GPT-4o (our price)"
    assert gpt.cost_per_1k_tokens == 1.5
    assert gpt.context_window == 64000
    assert len(catalog) == len(BUILTIN) + 1


def test_bad_entries_are_skipped_with_the_field_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "models_catalog.json"
    path.write_text(json.dumps({"ok": {"provider": "x"}, "bad": {"costPer1kTokens": -1}}))
    models, problems = load_catalog_file(path)
    assert [m.model_id for m in models] == ["ok"]
    assert len(problems) == 1
    assert "'bad'" in problems[0]
    assert "provider" in problems[0]
    with caplog.at_level(logging.WARNING):
        Catalog.build(tmp_path)
    assert "model 'bad'" in caplog.text


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "models_catalog.json"
    path.write_text("{not json")
    models, problems = load_catalog_file(path)
    assert models == []
    assert "not readable JSON" in problems[0]
