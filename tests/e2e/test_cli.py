"""The installed `menagerie` command, run as a real process the way an operator runs it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from menagerie import __version__
from menagerie.core.sandboxes.backends import BwrapBackend
from menagerie.settings import PROVIDER_KEY_VARS
from menagerie.storage.migrate import head_revision

MENAGERIE = shutil.which("menagerie", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(MENAGERIE is None, reason="the menagerie command is not installed")

# deadlines, not measurements: four test workers on two cores slow a start and a stop
STARTUP_DEADLINE_S = 60.0
EXIT_DEADLINE_S = 30.0
TOKEN_LINE = re.compile(r"Admin API token \(shown once, store it now\): (podplay_api_\S+)")


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The caller's environment minus anything that would configure Menagerie."""
    provider_vars = {name for names in PROVIDER_KEY_VARS.values() for name in names}
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MENAGERIE_", "EMBLEM_")) and name not in provider_vars
    }
    env.update(MENAGERIE_DATA_DIR=str(data_dir), MENAGERIE_LOG_LEVEL="WARNING", **extra)
    return env


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str
    data_dir: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


# The one-shot commands, each on a fresh data directory of its own, with extra environment.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
COMMANDS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "version": (("version",), {}),
    "migrate": (("migrate",), {}),
    # wide enough that rich never wraps a cell of the table
    "doctor": (("doctor",), {"COLUMNS": "200"}),
    "doctor_redis_down": (
        ("doctor",),
        {
            "COLUMNS": "200",
            "MENAGERIE_REDIS_URL": UNREACHABLE_REDIS,
            "MENAGERIE_BROKER_URL": UNREACHABLE_REDIS,
        },
    ),
    "worker_without_broker": (("worker",), {}),
    "serve_unknown_dialect": (("serve", "--dialect", "nosuch"), {}),
}


class Launched:
    """The one-shot commands, running in the background from the start of this module, so
    that their start-up overlaps the servers' (the tests for them come last)."""

    def __init__(self, base: Path) -> None:
        assert MENAGERIE is not None
        self._running: dict[str, tuple[subprocess.Popen[str], Path]] = {}
        self._finished: dict[str, Finished] = {}
        for name, (args, extra) in COMMANDS.items():
            cwd = base / name
            cwd.mkdir()
            data_dir = cwd / "data"  # not created: the commands must create it
            process = subprocess.Popen(
                [MENAGERIE, *args],
                env=_env(data_dir, **extra),
                cwd=cwd,  # away from the repository, so that no .env file there is read
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            self._running[name] = (process, data_dir)

    def __getitem__(self, name: str) -> Finished:
        if name not in self._finished:
            process, data_dir = self._running.pop(name)
            try:
                stdout, stderr = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            self._finished[name] = Finished(process.returncode, stdout, stderr, data_dir)
        return self._finished[name]

    def close(self) -> None:
        for process, _ in self._running.values():
            process.kill()
            process.communicate()


@pytest.fixture(scope="module", autouse=True)
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    launched = Launched(tmp_path_factory.mktemp("commands"))
    try:
        yield launched
    finally:
        launched.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    stderr_path: Path

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(EXIT_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the server ignored SIGTERM; stderr:\n{self.stderr}")

    def assert_stops_cleanly(self, data_dir: Path) -> None:
        """SIGTERM: a graceful shutdown, lifespan included, then exit."""
        code = self.stop()
        # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal so that the exit
        # status names what stopped it: death by SIGTERM *after* shutdown is the clean case
        assert code in (0, -signal.SIGTERM), f"exit status {code}; stderr:\n{self.stderr}"
        assert "Traceback" not in self.stderr
        # the lifespan's shutdown disposed the engine, so SQLite checkpointed and removed its
        # write-ahead log; a process killed outright leaves menagerie.db-wal behind
        assert (data_dir / "menagerie.db").is_file()
        assert not (data_dir / "menagerie.db-wal").exists(), "the database was not closed"


@contextmanager
def serving(*args: str, data_dir: Path, cwd: Path) -> Iterator[Server]:
    """`menagerie serve --port <free> ARGS`, once `/gary/health/live` answers."""
    assert MENAGERIE is not None
    port = _free_port()
    stderr_path = cwd / f"serve-{port}.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [MENAGERIE, "serve", "--port", str(port), *args],
            env=_env(data_dir),
            cwd=cwd,
            stdout=stderr,
            stderr=stderr,
        )
    server = Server(process, f"http://127.0.0.1:{port}", stderr_path)
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{server.stderr}")
            try:
                if httpx.get(f"{server.base_url}/gary/health/live", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer in time; stderr:\n{server.stderr}")
            time.sleep(0.1)
        yield server
    finally:
        server.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"  # not created: the server must create it


def test_serve_announces_the_admin_token_once_and_stops_cleanly(
    tmp_path: Path, data_dir: Path
) -> None:
    with serving(data_dir=data_dir, cwd=tmp_path) as server:
        tokens = TOKEN_LINE.findall(server.stderr)
        assert len(tokens) == 1, server.stderr
        token = tokens[0]

        validate = httpx.get(
            f"{server.base_url}/gary/api/auth/validate",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert validate.status_code == 200, validate.text
        body = validate.json()
        assert body["valid"] is True
        assert "admin" in body["user"]["roles"]

        wrong = httpx.get(
            f"{server.base_url}/gary/api/auth/validate",
            headers={"Authorization": f"Bearer {token}x"},
        )
        assert (wrong.status_code, wrong.json()) == (401, {"valid": False})
        server.assert_stops_cleanly(data_dir)

    with serving(data_dir=data_dir, cwd=tmp_path) as again:
        assert "podplay_api_" not in again.stderr  # shown once, on the first start only
        still_valid = httpx.get(
            f"{again.base_url}/gary/api/auth/validate",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert still_valid.status_code == 200, still_valid.text
        assert still_valid.json()["valid"] is True
        again.assert_stops_cleanly(data_dir)


def test_serve_with_a_root_dialect_answers_at_the_root(tmp_path: Path, data_dir: Path) -> None:
    with serving("--dialect", "gary", data_dir=data_dir, cwd=tmp_path) as server:
        root_live = httpx.get(f"{server.base_url}/health/live")
        assert (root_live.status_code, root_live.json()) == (200, {"status": "alive"})
        mounted_live = httpx.get(f"{server.base_url}/gary/health/live")
        assert (mounted_live.status_code, mounted_live.json()) == (200, {"status": "alive"})
        other_dialect = httpx.get(f"{server.base_url}/madace/api/health")
        assert other_dialect.status_code == 200, other_dialect.text

        unknown = httpx.get(f"{server.base_url}/no/such/path")
        assert unknown.status_code == 404
        body = unknown.json()
        assert {"error", "code", "details", "timestamp", "request_id"} <= set(body)
        assert body["code"] == "VALIDATION_ERROR"  # Crazy Gary's word for a path that is wrong
        assert body["request_id"] == unknown.headers["x-request-id"]
        server.assert_stops_cleanly(data_dir)


def test_version_prints_the_package_version(ran: Launched) -> None:
    result = ran["version"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == __version__


def test_migrate_creates_the_database_at_head(ran: Launched) -> None:
    head = head_revision()
    assert head is not None
    result = ran["migrate"]
    assert result.returncode == 0, result.stderr
    assert f"database at revision {head}" in result.stderr
    database = result.data_dir / "menagerie.db"
    assert database.is_file()
    assert database.stat().st_size > 0


def _doctor_rows(stdout: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) == 3:
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_doctor_reports_every_check(ran: Launched) -> None:
    result = ran["doctor"]
    assert result.returncode == 0, result.stderr
    assert __version__ in result.stdout
    rows = _doctor_rows(result.stdout)
    assert rows["data directory"][1] == str(result.data_dir.resolve())
    assert rows["database"][0] == "ok"
    assert rows["database"][1].startswith("sqlite")
    assert rows["redis"][0] == "off"  # no MENAGERIE_REDIS_URL: the in-process bus
    assert rows["runs broker"][0] == "off"  # no MENAGERIE_BROKER_URL: in memory
    # the same self-test the server runs at start: a real sandboxed command
    works = BwrapBackend().check().available
    assert rows["sandboxes (bubblewrap)"][0] == ("ok" if works else "missing")
    assert rows["provider offline"] == ("ok", "configured")
    for provider in PROVIDER_KEY_VARS:
        assert rows[f"provider {provider}"] == ("off", "no key")
    assert rows["provider ollama"] == ("off", "no key")
    assert rows["required settings"] == ("ok", "all present")
    assert rows["dev mode"] == ("off", "off")


def test_doctor_reports_an_unreachable_redis(ran: Launched) -> None:
    result = ran["doctor_redis_down"]
    assert result.returncode == 0, result.stderr
    assert _doctor_rows(result.stdout)["redis"] == ("missing", "ConnectionError")
    assert _doctor_rows(result.stdout)["runs broker"] == ("missing", "redis: ConnectionError")
    assert "Traceback" not in result.output


def test_a_worker_needs_a_broker(ran: Launched) -> None:
    result = ran["worker_without_broker"]
    assert result.returncode == 2
    assert "no MENAGERIE_BROKER_URL" in result.output
    assert "Traceback" not in result.output


def test_serve_rejects_an_unknown_dialect(ran: Launched) -> None:
    result = ran["serve_unknown_dialect"]
    assert result.returncode != 0
    assert "unknown dialect 'nosuch'" in result.output
    assert "--dialect" in result.output
    assert "Traceback" not in result.output
    assert not (result.data_dir / "menagerie.db").exists()  # it stopped before touching anything
