"""Helpers for the backend tests: what the machine offers, workspaces, and leftover processes.

bwrap and root are optional on a laptop (the tests that need them skip) and mandatory under
CI, which installs bubblewrap and runs as root: there a missing one fails the test.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from menagerie.core.sandboxes.backends.base import ExecRequest, Limits
from tests.utils.databases import IN_CI

MOUNT = "/vercel/sandbox"
ROOT = os.geteuid() == 0
SMALL = Limits(memory_mb=128, max_processes=64, output_bytes=100_000)


def require(ok: bool, what: str) -> None:
    if ok:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI")
    pytest.skip(f"{what} is not available here")


def require_bwrap() -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (apt-get install bubblewrap)")


def require_root() -> None:
    require(ROOT, "running as root (user switching, cgroups)")


@dataclass(frozen=True)
class Layout:
    """A server's directories in miniature: a private data dir and one sandbox's workspace."""

    base: Path
    data: Path
    workspace: Path
    uid: int | None

    def request(self, argv: list[str], **fields: object) -> ExecRequest:
        request = ExecRequest(
            argv=argv,
            workspace=self.workspace,
            mount_point=MOUNT,
            cwd=MOUNT,
            uid=self.uid,
            group=f"test-{self.base.name}",
            timeout_s=10.0,
            limits=SMALL,
        )
        return replace(request, **fields)


@contextmanager
def layout() -> Iterator[Layout]:
    # under /tmp rather than pytest's tmp_path: the sandbox's user must be able to reach its
    # workspace, and tmp_path's parents are private to root
    base = Path(tempfile.mkdtemp(prefix="menagerie-sandbox-"))
    base.chmod(0o755)
    data = base / "data"
    data.mkdir(mode=0o700)
    (data / "secret.txt").write_text("server secret\n")
    workspace = base / "workspace"
    workspace.mkdir(mode=0o700)
    # a uid of its own per test, so that its processes can be counted
    uid = random.randrange(200_000, 900_000) if ROOT else None
    if uid is not None:
        os.chown(workspace, uid, uid)
    try:
        yield Layout(base, data, workspace, uid)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def marker() -> str:
    """A sleep duration no other process uses: finds the command's processes in /proc."""
    return f"{1000 + random.random():.9f}"


def _running() -> Iterator[tuple[int, str, bytes]]:
    """(pid, status, cmdline) of every live process; zombies, which run nothing, are skipped.

    A sandbox's zombies are its init's, reparented to the machine's init when bwrap goes:
    reaping them is that init's job.
    """
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if "\nState:\tZ" not in status:
            yield int(entry.name), status, cmdline


def processes_with(text: str) -> list[int]:
    return [pid for pid, _, cmdline in _running() if text.encode() in cmdline]


def processes_of(uid: int) -> list[int]:
    return [pid for pid, status, _ in _running() if f"\nUid:\t{uid}\t" in status]
