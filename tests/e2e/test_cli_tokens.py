"""`menagerie tokens create|list|revoke`, run as real processes against a data directory, with
the real server using the tokens they make."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_cli import MENAGERIE, _env, serving

pytestmark = pytest.mark.skipif(MENAGERIE is None, reason="the menagerie command is not installed")
TOKEN = re.compile(r"^podplay_api_[A-Za-z0-9_-]{40,}$")


def menagerie(*args: str, data_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert MENAGERIE is not None
    return subprocess.run(
        [MENAGERIE, *args],
        env=_env(data_dir, COLUMNS="200"),
        cwd=cwd,  # away from the repository, so that no .env file there is read
        capture_output=True,
        text=True,
        timeout=60,
    )


def created_token(result: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """The token (stdout, alone) and its id (named on stderr)."""
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert TOKEN.match(lines[0]), lines[0]
    token_id = re.search(r"\b(tok_[a-z0-9]+)\b", result.stderr)
    assert token_id, result.stderr
    return lines[0], token_id.group(1)


def test_tokens_create_list_revoke(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"  # not created: the command must create it
    ours, ours_id = created_token(
        menagerie("tokens", "create", "--name", "ci deploys", data_dir=data_dir, cwd=tmp_path)
    )
    acme_result = menagerie(
        "tokens", "create", "--name", "acme ci", "--tenant", "acme", data_dir=data_dir, cwd=tmp_path
    )
    theirs, theirs_id = created_token(acme_result)
    assert "acme" in acme_result.stderr

    listed = menagerie("tokens", "list", data_dir=data_dir, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {
        line.split("│")[1].strip(): line for line in listed.stdout.splitlines() if "tok_" in line
    }
    assert set(rows) == {ours_id, theirs_id}
    assert "ci deploys" in rows[ours_id]
    assert "default" in rows[ours_id]
    assert "acme" in rows[theirs_id]
    assert ours[:16] in rows[ours_id]  # the prefix…
    for token in (ours, theirs):
        assert token not in listed.stdout + listed.stderr  # …never the token
    only_acme = menagerie("tokens", "list", "--tenant", "acme", data_dir=data_dir, cwd=tmp_path)
    assert theirs_id in only_acme.stdout
    assert ours_id not in only_acme.stdout

    # stored as hashes: the database files never hold a token
    for path in data_dir.glob("menagerie.db*"):
        stored = path.read_bytes()
        assert ours.encode() not in stored
        assert theirs.encode() not in stored

    with serving(data_dir=data_dir, cwd=tmp_path) as server:
        validate = httpx.get(
            f"{server.base_url}/gary/api/auth/validate", headers={"Authorization": f"Bearer {ours}"}
        )
        assert validate.status_code == 200, validate.text
        assert validate.json()["valid"] is True
        assert "admin" in validate.json()["user"]["roles"]
        acme = httpx.get(
            f"{server.base_url}/podplay/api/auth/me", headers={"Authorization": f"Bearer {theirs}"}
        )
        assert acme.status_code == 200, acme.text
        assert acme.json()["tenant_id"] == "acme"

        # revoked while the server runs: refused at once
        revoked = menagerie("tokens", "revoke", ours_id, data_dir=data_dir, cwd=tmp_path)
        assert revoked.returncode == 0, revoked.stderr
        assert ours_id in revoked.stderr
        refused = httpx.get(
            f"{server.base_url}/gary/api/auth/validate", headers={"Authorization": f"Bearer {ours}"}
        )
        assert (refused.status_code, refused.json()) == (401, {"valid": False})
        still = httpx.get(
            f"{server.base_url}/podplay/api/auth/me", headers={"Authorization": f"Bearer {theirs}"}
        )
        assert still.status_code == 200
        server.assert_stops_cleanly(data_dir)
    assert ours not in server.stderr
    assert theirs not in server.stderr

    after = menagerie("tokens", "list", data_dir=data_dir, cwd=tmp_path)
    assert "revoked" in next(line for line in after.stdout.splitlines() if ours_id in line)


def test_tokens_errors_are_sentences(tmp_path: Path) -> None:
    assert MENAGERIE is not None
    commands = {
        "unknown": ("tokens", "revoke", "tok_nope"),
        "bad_tenant": ("tokens", "create", "--name", "x", "--tenant", "Not A Tenant"),
        "no_name": ("tokens", "create"),
    }
    running = {}
    for name, args in commands.items():  # at once, each on a data directory of its own
        running[name] = subprocess.Popen(
            [MENAGERIE, *args],
            env=_env(tmp_path / name / "data", COLUMNS="200"),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=60)
        results[name] = (process.returncode, stdout, stderr)

    code, _, stderr = results["unknown"]
    assert code == 1
    assert "no such API token" in stderr
    code, stdout, stderr = results["bad_tenant"]
    assert code == 1
    assert "tenant must be" in stderr
    assert stdout == ""
    code, _, stderr = results["no_name"]
    assert code != 0
    assert "--name" in stderr
    for _, stdout, stderr in results.values():
        assert "Traceback" not in stdout + stderr
