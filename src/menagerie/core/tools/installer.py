"""Installs MCP server packages: a virtual environment per PyPI package, a prefix per npm one.

A package home is keyed by registry, name and version and shared by every installation of that
package, so two tenants installing one server download it once. A file lock serialises
installs of one home across processes; a marker file says the home is complete, so a crash
halfway leaves a home that the next install redoes rather than trusts.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shutil
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from menagerie.core.errors import Unavailable
from menagerie.core.filelock import LOCK_FILE, locked
from menagerie.core.tools.models import Package

Progress = Callable[[int, str], Awaitable[None]]
READY_MARKER = ".menagerie-ready"
USERS = ".menagerie-users"
INSTALL_TIMEOUT_S = 600.0
OUTPUT_TAIL = 2000


def package_key(package: Package) -> str:
    return f"{package.registry_type}:{package.identifier}@{package.version or 'latest'}"


@dataclass(frozen=True, slots=True)
class PackageHome:
    path: Path
    bin_dir: Path

    def executable(self, name: str) -> Path:
        return self.bin_dir / name


class PackageInstaller:
    def __init__(self, root: Path, *, index_url: str | None = None) -> None:
        self.root = root
        self.index_url = index_url

    def home_path(self, package: Package) -> Path:
        version = package.version or "latest"
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{package.identifier}@{version}").strip("_")
        return self.root / package.registry_type / slug

    def home(self, package: Package) -> PackageHome:
        path = self.home_path(package)
        if package.registry_type == "pypi":
            return PackageHome(path, path / "venv" / "bin")
        return PackageHome(path, path / "node_modules" / ".bin")

    def is_installed(self, package: Package) -> bool:
        return (self.home_path(package) / READY_MARKER).exists()

    async def install(self, package: Package, progress: Progress, *, user: str) -> PackageHome:
        """Install the package unless it is there, and record `user` (an installation) as
        one of its users: a copy is removed only when its last user releases it."""
        home = self.home(package)
        async with locked(home.path):
            if self.is_installed(package):
                await progress(80, f"{package.identifier} is already installed")
            else:
                _empty(home.path)
                if package.registry_type == "pypi":
                    await self._install_pypi(package, home, progress)
                else:
                    await self._install_npm(package, home, progress)
                (home.path / READY_MARKER).write_text(package.version or "latest")
            users = home.path / USERS
            users.mkdir(exist_ok=True)
            (users / _safe(user)).touch()
        return home

    async def release(self, package: Package, *, user: str) -> bool:
        """Forget `user`; remove the copy if nobody else uses it. Says whether it was removed.

        The users are files beside the copy, not rows of one database, so that every process
        and every database sharing this directory counts."""
        home = self.home_path(package)
        if not home.exists():
            return False
        async with locked(home):
            users = home / USERS
            (users / _safe(user)).unlink(missing_ok=True)
            if not (home / READY_MARKER).exists():
                return False  # already removed, or never finished
            if users.exists() and any(users.iterdir()):
                return False
            _empty(home)
            return True

    async def _install_pypi(self, package: Package, home: PackageHome, progress: Progress) -> None:
        venv = home.path / "venv"
        requirement = package.identifier + (f"=={package.version}" if package.version else "")
        await progress(15, "Creating a virtual environment")
        # our own pip installs into the new environment: no pip copy in every environment
        own_pip = importlib.util.find_spec("pip") is not None
        await _run([sys.executable, "-m", "venv", *(["--without-pip"] if own_pip else []), venv])
        await progress(30, f"Installing {requirement} from PyPI")
        pip = (
            [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
            if own_pip
            else [str(venv / "bin" / "python"), "-m", "pip"]
        )
        index = ["--index-url", self.index_url] if self.index_url else []
        await _run(
            [*pip, "install", "--disable-pip-version-check", "--no-input", *index, requirement]
        )

    async def _install_npm(self, package: Package, home: PackageHome, progress: Progress) -> None:
        npm = shutil.which("npm")
        if npm is None:
            raise Unavailable(
                "installing an npm package needs Node.js and npm on this machine",
                service="npm",
                reason="DEPENDENCY_MISSING",
            )
        spec = package.identifier + (f"@{package.version}" if package.version else "")
        await progress(30, f"Installing {spec} from npm")
        home.path.mkdir(parents=True, exist_ok=True)
        await _run(
            [npm, "install", "--prefix", str(home.path), "--no-audit", "--no-fund",
             "--omit=dev", "--no-save", "--loglevel=error", spec]
        )  # fmt: skip


def _safe(user: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", user)[:128] or "_"


def _empty(path: Path) -> None:
    """Remove everything in a package home but its lock file, which someone may be waiting on."""
    if not path.exists():
        return
    for child in path.iterdir():
        if child.name == LOCK_FILE:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


async def _run(command: list[str | Path]) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MENAGERIE_")}
    process = await asyncio.create_subprocess_exec(
        *map(str, command),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), INSTALL_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise Unavailable(
            f"{Path(str(command[0])).name} did not finish in {INSTALL_TIMEOUT_S:g}s",
            service="installer",
            reason="INSTALLATION_FAILED",
        ) from None
    if process.returncode != 0:
        tail = output.decode("utf-8", "replace")[-OUTPUT_TAIL:].strip()
        raise Unavailable(
            f"installation failed: {tail}", service="installer", reason="INSTALLATION_FAILED"
        )
