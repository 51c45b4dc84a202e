"""Package copies are shared by installations and removed with their last user, whichever
database or process that user belongs to."""

from __future__ import annotations

from pathlib import Path

from menagerie.core.tools.installer import READY_MARKER, PackageInstaller
from menagerie.core.tools.models import Package

PACKAGE = Package("pypi", "mcp-server-example", "1.0.0")


async def quiet(progress: int, step: str) -> None:
    return None


async def test_a_copy_goes_with_its_last_user(tmp_path: Path) -> None:
    installer = PackageInstaller(tmp_path)
    home = installer.home_path(PACKAGE)
    home.mkdir(parents=True)
    (home / READY_MARKER).write_text("1.0.0")  # installed before: install() only registers
    (home / "venv").mkdir()

    # two installers over one directory: two servers (or two databases) sharing packages
    other = PackageInstaller(tmp_path)
    await installer.install(PACKAGE, quiet, user="inst_a")
    await other.install(PACKAGE, quiet, user="inst_b")
    assert installer.is_installed(PACKAGE)

    assert await installer.release(PACKAGE, user="inst_a") is False
    assert installer.is_installed(PACKAGE)
    assert (home / "venv").is_dir()

    assert await other.release(PACKAGE, user="inst_b") is True
    assert not installer.is_installed(PACKAGE)
    assert [p.name for p in home.iterdir()] == [".lock"]  # kept for anyone waiting on it
    assert await installer.release(PACKAGE, user="inst_b") is False  # idempotent
