"""Per-sandbox cgroups: the only limits that hold for a whole tree of processes.

rlimits count per process (memory, CPU) or per OS user (processes); a cgroup counts
everything a sandbox started, forks included, and lets us find and kill all of it. Each
sandbox gets `<own cgroup>/menagerie/<group>` carrying its limits, and each command a leaf
below it, so that one command's timeout kills that command only (cgroup v2 also forbids
processes beside child groups). A controller we cannot create or write is simply absent:
callers report the limit as not held by a cgroup.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from menagerie.core.sandboxes.backends.base import Limits

CONTROLLERS = ("pids", "memory", "cpu")
PERIOD_US = 100_000
GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
# a fork bomb refills a group while we kill it: retry, each round leaves fewer forkers
KILL_ROUNDS = 50
EMPTY_WAIT_S = 5.0


@dataclass(frozen=True, slots=True)
class Cgroup:
    """One command's leaf: the directories a process joins (one per v1 hierarchy)."""

    dirs: tuple[Path, ...]

    @property
    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.dirs]


def _own_paths(self_cgroup: Path) -> tuple[dict[str, str], str | None]:
    """v1 controller -> our path in its hierarchy, and our v2 path (the `0::` line)."""
    v1: dict[str, str] = {}
    v2: str | None = None
    with contextlib.suppress(OSError):
        for line in self_cgroup.read_text().splitlines():
            _, names, path = line.split(":", 2)
            if not names:
                v2 = path
            for name in names.split(","):
                v1[name] = path
    return v1, v2


def _writable(path: Path) -> bool:
    with contextlib.suppress(OSError):
        path.mkdir(parents=True, exist_ok=True)
        return os.access(path / "cgroup.procs", os.W_OK)
    return False


class Cgroups:
    def __init__(
        self,
        mount: Path = Path("/sys/fs/cgroup"),
        self_cgroup: Path = Path("/proc/self/cgroup"),
        name: str = "menagerie",
    ) -> None:
        self.unified = (mount / "cgroup.controllers").is_file()
        # controller -> the directory holding every sandbox's group
        self._bases: dict[str, Path] = {}
        self._limited: dict[str, Limits] = {}  # the limits last written, per group
        v1, v2 = _own_paths(self_cgroup)
        if self.unified:
            if v2 is not None:
                self._bases = self._unified_bases(mount / v2.lstrip("/") / name)
            return
        for controller in CONTROLLERS:
            own = v1.get(controller)
            if own is None:
                continue
            base = mount / controller / own.lstrip("/") / name
            if (mount / controller).is_dir() and _writable(base):
                self._bases[controller] = base

    @staticmethod
    def _unified_bases(base: Path) -> dict[str, Path]:
        # v2 passes a controller down only where every ancestor's subtree_control enables it;
        # our own cgroup may hold processes and refuse (EBUSY): then the controller is absent
        if not _writable(base):
            return {}
        for path in (base.parent, base):
            for controller in CONTROLLERS:
                with contextlib.suppress(OSError):
                    (path / "cgroup.subtree_control").write_text(f"+{controller}")
        with contextlib.suppress(OSError):
            enabled = (base / "cgroup.subtree_control").read_text().split()
            return {c: base for c in CONTROLLERS if c in enabled}
        return {}

    @property
    def controllers(self) -> frozenset[str]:
        return frozenset(self._bases)

    def leaf(self, group: str, limits: Limits) -> Cgroup | None:
        """Make (or refresh) the group's limits and a fresh leaf for one command in it."""
        parents = self.group(group, limits)
        if parents is None:
            return None
        name = f"run-{uuid.uuid4().hex[:12]}"
        dirs: list[Path] = []
        try:
            for parent in parents.dirs:
                (parent / name).mkdir()
                dirs.append(parent / name)
        except OSError:
            # status() says these limits hold: refuse the command rather than run it without
            for path in dirs:
                path.rmdir()
            raise
        return Cgroup(tuple(dirs))

    def group(self, group: str, limits: Limits) -> Cgroup | None:
        """The sandbox's own group with its limits, made once (for backends whose commands
        need no leaf: a PID namespace already ends each command's every process)."""
        if not GROUP_NAME.fullmatch(group):
            raise ValueError(f"invalid sandbox group name: {group!r}")
        if not self._bases:
            return None
        parents = [base / group for base in dict.fromkeys(self._bases.values())]
        if self._limited.get(group) != limits or not all(p.is_dir() for p in parents):
            for parent in parents:
                parent.mkdir(exist_ok=True)
                self._limit(parent, limits)
            self._limited[group] = limits
        return Cgroup(tuple(parents))

    def _limit(self, path: Path, limits: Limits) -> None:
        memory = limits.memory_mb * 1024 * 1024
        quota = limits.vcpus * PERIOD_US
        if self.unified:
            values = {
                "pids": {"pids.max": str(limits.max_processes)},
                "memory": {"memory.max": str(memory), "memory.swap.max": "0"},
                "cpu": {"cpu.max": f"{quota} {PERIOD_US}"},
            }
        else:
            values = {
                "pids": {"pids.max": str(limits.max_processes)},
                "memory": {},  # below: memory and memsw in the order the kernel accepts
                "cpu": {"cpu.cfs_period_us": str(PERIOD_US), "cpu.cfs_quota_us": str(quota)},
            }
        for controller, files in values.items():
            if self._bases.get(controller) != path.parent:
                continue
            for file, value in files.items():
                target = path / file
                if target.exists():
                    target.write_text(value)
        if not self.unified and self._bases.get("memory") == path.parent:
            self._limit_memory_v1(path, memory)

    @staticmethod
    def _limit_memory_v1(path: Path, memory: int) -> None:
        # memsw (memory plus swap, absent without swap accounting) may never be below memory:
        # lowering writes memory first, raising writes memsw first
        files = [path / "memory.limit_in_bytes", path / "memory.memsw.limit_in_bytes"]
        files = [file for file in files if file.exists()]
        try:
            for file in files:
                file.write_text(str(memory))
        except OSError:
            for file in reversed(files):
                file.write_text(str(memory))

    @staticmethod
    def pids(cgroup: Cgroup) -> set[int]:
        found: set[int] = set()
        for path in cgroup.dirs:
            with contextlib.suppress(OSError):
                found.update(int(pid) for pid in (path / "cgroup.procs").read_text().split())
        return found

    def kill(self, cgroup: Cgroup) -> None:
        """SIGKILL every process in the leaf, again while forks keep refilling it."""
        for path in cgroup.dirs:
            with contextlib.suppress(OSError):
                (path / "cgroup.kill").write_text("1")  # v2 (5.14+): atomic, forks included
        for _ in range(KILL_ROUNDS):
            pids = self.pids(cgroup)
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def _removed(self, cgroup: Cgroup) -> bool:
        self.kill(cgroup)
        if self.pids(cgroup):
            return False
        for path in cgroup.dirs:
            try:
                path.rmdir()
            except FileNotFoundError:
                continue
            except OSError:  # EBUSY: a process still on its way out
                return False
        return True

    async def remove(self, cgroup: Cgroup) -> None:
        """Kill what is left in the leaf, wait for it to empty, remove the leaf."""
        # dying processes leave the cgroup a moment after SIGKILL; rmdir is refused until then,
        # and v1 has no event to wait on
        deadline = time.monotonic() + EMPTY_WAIT_S
        while not self._removed(cgroup) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    def remove_blocking(self, cgroup: Cgroup) -> None:
        """remove() for callers without an event loop (the startup self-test)."""
        deadline = time.monotonic() + EMPTY_WAIT_S
        while not self._removed(cgroup) and time.monotonic() < deadline:
            time.sleep(0.005)

    def paths(self, group: str) -> list[Path]:
        """The group's directory in each hierarchy, made or not."""
        if not GROUP_NAME.fullmatch(group):
            raise ValueError(f"invalid sandbox group name: {group!r}")
        return [base / group for base in dict.fromkeys(self._bases.values())]

    async def release(self, group: str) -> None:
        """Remove a sandbox's group with every leaf in it, killing what still runs there."""
        self._limited.pop(group, None)
        for parent in self.paths(group):
            if not parent.is_dir():
                continue
            leaves = [path for path in parent.iterdir() if path.is_dir()]
            for leaf in leaves:
                await self.remove(Cgroup((leaf,)))
            await self.remove(Cgroup((parent,)))
