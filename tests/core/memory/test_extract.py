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
        ("I moved to Lisbon.", "personal_info", "location", "Lisbon"),
        ("We talked. I've just moved to Porto!", "personal_info", "location", "Porto"),
        ("I recently relocated to New York", "personal_info", "location", "New York"),
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
        "I never moved to Lisbon",
        "I haven't moved to Lisbon",
        "I did not relocate to Berlin",
        "I no longer live in Paris",
        "If I moved to Lisbon, would you know?",
        "Should I move to Lisbon",
        "Did I say I moved to Lisbon?",
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


def test_a_move_is_where_the_user_lives() -> None:
    [moved] = extract_memories("I moved to Lisbon")
    assert moved.content == "The user lives in Lisbon"
    # one location per message: the move, the newer news, wins
    [found] = extract_memories("I live in Paris, well, I moved to Lisbon")
    assert (found.key, found.value) == ("location", "Lisbon")
