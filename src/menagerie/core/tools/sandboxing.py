"""Installed MCP servers inside the sandbox backend, where an isolated one runs here.

A server installed from PyPI or npm then sees /usr and a few /etc files read-only, its own
package home and interpreter read-only, and its installation's work directory as the only
writable place (its HOME), at the same paths as on the host so that the paths in its plan
stay valid. It has the network only when its catalogue entry says it needs it, runs as a
user of its own when Menagerie runs as root, and lives in a cgroup released when it stops.

What is not sandboxed says so (`isolation: "none"`): servers started from an administrator's
own command line (it may live anywhere on the host), local HTTP servers (we reach them on
loopback, which a sandbox's network namespace would hide), and every server when the
backend is weak, unavailable, or the operator turned this off (`MENAGERIE_MCP_SANDBOX=off`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from menagerie.core.sandboxes.backends.base import Backend, ExecRequest, Limits, Spawner
from menagerie.core.tools.installer import PackageHome
from menagerie.core.tools.models import CatalogEntry, LaunchPlan

Isolation = Literal["bwrap", "none"]
MODES = ("auto", "off")
# past the sandboxes' own users (200_000 up to 1_200_000), so that none is ever shared
UID_BASE = 1_300_000
UID_SPAN = 1_000_000
# a server lives as long as its installation runs: the backend's timeout never applies
FOREVER_S = 10 * 365 * 24 * 3600.0
SERVER_LIMITS = Limits(memory_mb=1024, max_processes=256)
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")


@dataclass(frozen=True, slots=True)
class SandboxedCommand:
    """What the SDK starts instead of the plan's own command: the sandbox around it."""

    command: str
    args: list[str]
    env: dict[str, str]  # for the sandbox's own tools; the server's is set inside
    group: str  # the backend's cgroup group, released when the server stops
    isolation: Isolation = "bwrap"


def group_of(installation_id: str) -> str:
    return f"mcp-{installation_id}"


def uid_of(installation_id: str) -> int:
    """A stable OS user per installation: its files keep their owner across restarts."""
    digest = hashlib.sha256(installation_id.encode()).digest()
    return UID_BASE + int.from_bytes(digest[:8], "big") % UID_SPAN


class ServerSandbox:
    def __init__(self, backend: Backend | None, mode: str = "auto") -> None:
        if mode not in MODES:
            raise ValueError(f"unknown MCP sandbox mode {mode!r}: one of {', '.join(MODES)}")
        self._backend = backend
        self.mode = mode

    @property
    def backend(self) -> Spawner | None:
        """The backend servers run under, or None: off, unavailable, weak or unable to spawn."""
        backend = self._backend
        if self.mode == "off" or backend is None or not isinstance(backend, Spawner):
            return None
        status = backend.status()
        return backend if status.available and status.strength == "isolated" else None

    def expected(self, entry: CatalogEntry, configuration: dict[str, Any]) -> Isolation:
        """The isolation an installation would start under now (for one not running)."""
        packaged = bool(entry.packages) and not configuration.get("command")
        stdio = packaged and entry.packages[0].transport == "stdio" and not configuration.get("url")
        return "bwrap" if stdio and self.backend is not None else "none"

    def wrap(
        self,
        installation_id: str,
        entry: CatalogEntry,
        plan: LaunchPlan,
        home: PackageHome | None,
    ) -> SandboxedCommand | None:
        """The sandboxed command for a stdio server from a package; None runs it as is."""
        backend = self.backend
        if backend is None or home is None or not _runs_package(plan, home):
            return None
        assert plan.command is not None
        assert plan.cwd is not None
        workdir = Path(plan.cwd)
        uid = uid_of(installation_id) if os.geteuid() == 0 else None
        if uid is not None:
            _give(workdir, uid)
        group = group_of(installation_id)
        spawn = backend.spawn(
            ExecRequest(
                argv=[plan.command, *plan.args],
                workspace=workdir,
                mount_point=str(workdir),
                cwd=str(workdir),
                env=dict(plan.env),
                timeout_s=FOREVER_S,
                limits=SERVER_LIMITS,
                network=entry.network,
                uid=uid,
                group=group,
                ro_binds=_read_only(plan, home),
            )
        )
        return SandboxedCommand(spawn.argv[0], spawn.argv[1:], spawn.env, group)

    async def release(self, group: str) -> None:
        backend = self.backend
        if backend is not None:
            await backend.release(group)


def _runs_package(plan: LaunchPlan, home: PackageHome) -> bool:
    if plan.transport != "stdio" or plan.local_http or not plan.command or not plan.cwd:
        return False
    return Path(plan.command).parent == home.bin_dir


def _read_only(plan: LaunchPlan, home: PackageHome) -> tuple[Path, ...]:
    """The package home, the interpreter its entry points run on, and the CA bundle."""
    paths = [home.path.resolve()]
    python = home.bin_dir / "python"
    if python.exists():
        # a virtual environment's python links to the interpreter that made it: bind that
        # interpreter's whole prefix (its standard library), wherever it is installed
        paths.append(python.resolve().parent.parent)
    else:
        node = shutil.which("node")
        if node is not None:
            paths.append(Path(node).resolve().parent.parent)
    for name in CA_VARIABLES:
        value = plan.env.get(name)
        if value and Path(value).is_file():
            paths.append(Path(value).resolve().parent)
    return tuple(dict.fromkeys(paths))


def _give(workdir: Path, uid: int) -> None:
    """Make the work directory the sandbox user's, links never followed: files written
    before (by an unsandboxed run, or by us) would otherwise be read-only to it."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.chown(workdir, uid, uid, follow_symlinks=False)
    for root, dirs, files in os.walk(workdir):
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)
    workdir.chmod(0o700)
