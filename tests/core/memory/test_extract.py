"""The rule-based extractor: plain statements become memories, questions and negations do not."""

from __future__ import annotations

import pytest

from menagerie.core.memory.extract import extract_memories


@pytest.mark.parametrize(
    ("text", "category", "key", "value"),
    [
        ("My name is Ada Lovelace.", "personal_info", "name", "Ada Lovelace"),
        ("Hi! Call me Bo", "personal_info", "name", "Bo"),
        ("I prefer dark mode", "user_preferences", "dark_mode", "dark mode"),
        ("I really like Rust, it is fast", "user_preferences", "rust", "Rust"),
        (
            "I hate meetings before noon.",
            "user_preferences",
            "meetings_before_noon",
            "meetings before noon",
        ),
        ("My favorite editor is Helix.", "user_preferences", "favorite_editor", "Helix"),
        ("I work with Python and FastAPI", "context", "python_and_fastapi", "Python and FastAPI"),
        ("I work at Acme Corp.", "context", "employer", "Acme Corp"),
        ("I usually use Neovim", "context", "neovim", "Neovim"),
        ("I live in Lisbon", "personal_info", "location", "Lisbon"),
        ("I'm a backend developer", "skills", "role", "backend developer"),
    ],
)
def test_statements_become_memories(text: str, category: str, key: str, value: str) -> None:
    [memory] = extract_memories(text)
    assert (memory.category, memory.key, memory.value) == (category, key, value)
    assert memory.context
    assert memory.context in text
    assert 0 < memory.importance <= 1
    assert memory.content


@pytest.mark.parametrize(
    "text",
    [
        "Do I prefer tabs?",
        "What is my name?",
        "I don't like spam",
        "I never use Windows",
        "If I prefer tea, tell me",
        "The weather is nice",
        "",
    ],
)
def test_questions_negations_and_chatter_are_not(text: str) -> None:
    assert extract_memories(text) == []


def test_several_in_one_message() -> None:
    found = extract_memories("My name is Kim. I prefer short answers! I work with Go.")
    assert [(m.category, m.key) for m in found] == [
        ("personal_info", "name"),
        ("user_preferences", "short_answers"),
        ("context", "go"),
    ]
