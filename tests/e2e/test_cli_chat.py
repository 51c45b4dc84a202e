"""`menagerie chat`: a real subprocess fed by stdin, in-process and against a real server."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.e2e.test_cli import MENAGERIE, TOKEN_LINE, _env, serving

DEADLINE_S = 60


def chat(*args: str, stdin: str, data_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert MENAGERIE is not None
    return subprocess.run(
        [MENAGERIE, "chat", *args],
        input=stdin,
        env=_env(data_dir, MENAGERIE_OFFLINE_TOKEN_DELAY_MS="0", COLUMNS="200"),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )


def test_in_process_chat_keeps_the_session_and_lists_memories(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = chat(
        "--local",
        stdin="Hello, my name is Ada.\nWhat did I say?\n/memories\n/quit\n",
        data_dir=data_dir,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    answers = [line for line in result.stdout.splitlines() if line.startswith("[offline model]")]
    assert len(answers) == 2
    assert "Hello, my name is Ada." in answers[0]
    assert "What did I say?" in answers[1]
    assert "personal_info" in result.stderr + result.stdout
    assert "The user's name is Ada" in result.stderr + result.stdout


def test_chat_through_a_running_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serving(data_dir=data_dir, cwd=tmp_path) as server:
        found = TOKEN_LINE.search(server.stderr)
        assert found is not None
        token = found.group(1)
        result = chat(
            "mama-bear",
            "--url",
            server.base_url,
            "--token",
            token,
            stdin="I prefer short answers\n/memories\n",
            data_dir=data_dir,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert f"at {server.base_url}" in result.stderr
        assert re.search(r"\[offline model\].*I prefer short answers", result.stdout)
        assert "user_preferences" in result.stdout
        refused = chat(
            "--url", server.base_url, stdin="hi\n", data_dir=tmp_path / "other", cwd=tmp_path
        )
        assert refused.returncode == 1
        assert "needs a token" in refused.stderr


def test_a_fact_told_to_two_agents_is_listed_once(tmp_path: Path) -> None:
    """Issue 15: the memory store's upsert is per agent, reconciliation is per user."""
    data_dir = tmp_path / "data"
    first = chat(
        "--local", stdin="my name is Ada\nI live in Paris\n/quit\n", data_dir=data_dir, cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    second = chat(
        "mama-bear",
        "--local",
        stdin="My name is Ada.\nI moved to Lisbon\n/memories\n/quit\n",
        data_dir=data_dir,
        cwd=tmp_path,
    )
    assert second.returncode == 0, second.stderr
    listed = second.stdout + second.stderr
    assert listed.count("The user's name is Ada") == 1
    assert "The user lives in Lisbon" in listed
    assert "Paris" not in listed
