"""Starting a sandboxed command: the prefix every backend shares, and one run to its end.

The prefix joins the command's cgroup leaf, switches user and sets rlimits before the user's
program starts by exec-ing through small tools, since `preexec_fn` is unsafe in a threaded
server. The user's environment is applied by the last step only (`env -i`, inside the
sandbox for bwrap): given earlier, LD_PRELOAD and the like would reach tools that still run
as the server's user, and values in a long-lived process's argv are readable by every host
user in /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import time
from collections.abc import Callable

from menagerie.core.sandboxes.backends.base import ExecOutcome, ExecRequest
from menagerie.core.sandboxes.backends.cgroups import Cgroup, Cgroups
from menagerie.core.sandboxes.backends.spawn import Spawned, spawn

TOOLS = ("env", "setpriv", "prlimit")
MIB = 1024 * 1024
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
TOOL_ENV = {"PATH": "/usr/bin:/bin"}
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# writes its own pid into each cgroup.procs given before `--`, then becomes the rest
JOIN_LOOP = (
    'for p; do case $p in --) break;; esac; echo "$$" > "$p" || exit 125; shift; done; shift;'
)
JOIN = f'{JOIN_LOOP} exec "$@"'
# pipes may outlive the command in a process that left its group (no cgroup to find it)
DRAIN_AFTER_EXIT_S = 1.0

# a backend's command line for a request, joining the given cgroup leaf
Build = Callable[[ExecRequest, Cgroup | None], list[str]]


def tool_paths() -> dict[str, str | None]:
    return {name: shutil.which(name, path="/usr/bin:/bin") for name in TOOLS}


class Launcher:
    def __init__(
        self, cgroups: Cgroups | None = None, tools: dict[str, str | None] | None = None
    ) -> None:
        self.cgroups = cgroups if cgroups is not None else Cgroups()
        self.tools = tools if tools is not None else tool_paths()
        self.root = os.geteuid() == 0

    @property
    def missing(self) -> list[str]:
        return [name for name, path in self.tools.items() if path is None]

    def holds(self) -> dict[str, str | None]:
        """How each limit of `Limits` holds on this machine, whatever the backend."""
        controllers = self.cgroups.controllers
        return {
            "memory": "cgroup" if "memory" in controllers else "rlimit",
            # RLIMIT_NPROC counts per real uid and spares uid 0: only a uid of its own holds it
            "processes": "cgroup" if "pids" in controllers else "rlimit" if self.root else None,
            "cpu_time": "rlimit",
            "file_size": "rlimit",
            "open_files": "rlimit",
            "vcpus": "cgroup" if "cpu" in controllers else None,
            "user": "uid" if self.root else None,
        }

    def leaf(self, request: ExecRequest) -> Cgroup | None:
        return self.cgroups.leaf(request.group, request.limits)

    def separate_uid(self, request: ExecRequest) -> bool:
        """Whether the command runs as a user of its own (the server is root and gave one)."""
        return self.root and request.uid is not None and request.uid != 0

    def drop_to(self, request: ExecRequest) -> list[str]:
        """`setpriv` switching to the sandbox's user with no capabilities left at all."""
        uid = request.uid
        return [
            str(self.tools["setpriv"]),
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
        ]

    def prefix(
        self,
        request: ExecRequest,
        cgroup: Cgroup | None,
        drop_caps: bool,
        switch_uid: bool = True,
        fds: dict[int, str] | None = None,
    ) -> list[str]:
        """cgroup join, user switch and rlimits, ending in `--`: the program follows.

        `switch_uid=False` leaves the switch to the caller (bwrap switches inside the sandbox,
        after it has bound the workspace as root; it sets no_new_privs itself, so no setpriv
        runs here at all). `fds` are files opened read-only on those descriptors by the
        same small shell that joins the cgroup (bwrap's `--seccomp 9`): one exec fewer."""
        setpriv, prlimit = str(self.tools["setpriv"]), str(self.tools["prlimit"])
        limits = request.limits
        separate_uid = self.separate_uid(request)
        # rlimits set by the shell itself (both soft and hard, so the sandbox cannot raise
        # them); -f and -c count 512-byte blocks, -v KiB, in dash and in bash as `sh` alike
        ulimits = [
            f"ulimit -n {limits.open_files}",
            f"ulimit -f {limits.file_size_mb * MIB // 512}",
            "ulimit -c 0",
        ]
        if "memory" not in self.cgroups.controllers:
            # address space, not resident memory: a cgroup, where there is one, is exact and
            # leaves runtimes that reserve large mappings (V8, the JVM) alone
            ulimits.append(f"ulimit -v {limits.memory_mb * 1024}")
        if limits.cpu_seconds is not None:
            ulimits.append(f"ulimit -t {limits.cpu_seconds}")
        opened = " ".join(f"{fd}<{shlex.quote(path)}" for fd, path in (fds or {}).items())
        script = f'{JOIN_LOOP} {" && ".join(ulimits)} || exit 125; exec "$@" {opened}'
        procs = cgroup.procs_files if cgroup is not None else []
        argv: list[str] = ["/bin/sh", "-c", script.rstrip(), "sh", *procs, "--"]
        if separate_uid and switch_uid:
            argv += [setpriv, "--no-new-privs"]
            argv += [f"--reuid={request.uid}", f"--regid={request.uid}", "--clear-groups"]
        elif self.root and drop_caps:
            # uid 0 without capabilities still owns every root file: weaker, but not root
            argv += [setpriv, "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]
        elif switch_uid:
            argv += [setpriv, "--no-new-privs"]
        if separate_uid and "pids" not in self.cgroups.controllers:
            # RLIMIT_NPROC counts per user; shells spell it differently (dash -p, bash -u)
            argv += [prlimit, f"--nproc={limits.max_processes}", "--"]
        return argv

    @staticmethod
    def environ(request: ExecRequest, home: str, cwd: str | None = None) -> list[str]:
        """The `env -i NAME=value …` that sets exactly the sandbox's environment (and cwd).

        `cwd` is a host directory: then the command runs on the host, where the sandbox's
        HOME (a path inside it) would not exist, so `home` replaces it.
        """
        env = {"PATH": DEFAULT_PATH, "HOME": home, **request.env}
        if cwd is not None:
            env["HOME"] = home
        for name in env:
            if not ENV_NAME.fullmatch(name):
                raise ValueError(f"invalid environment variable name: {name!r}")
        argv = ["/usr/bin/env", "-i"]
        if cwd is not None:
            argv.append(f"--chdir={cwd}")
        argv += [f"{name}={value}" for name, value in env.items()]
        if not request.argv:
            raise ValueError("empty command")
        if "=" in request.argv[0]:  # env would take it for one more variable
            argv += ["/bin/sh", "-c", 'exec "$@"', "sh"]
        return argv

    async def run(
        self, request: ExecRequest, build: Build, *, per_command: bool = True
    ) -> ExecOutcome:
        """Run `build`'s command line to the end or the timeout in a fresh leaf of the
        sandbox's cgroup; nothing of it is left running on return.

        `per_command=False` runs it in the sandbox's group itself, for a backend whose PID
        namespace ends every process of a command with it: no leaf to make and remove."""
        started = time.monotonic()
        cgroup = (
            self.leaf(request) if per_command else self.cgroups.group(request.group, request.limits)
        )
        leaf = cgroup if per_command else None
        try:
            command = build(request, cgroup)
            child = await spawn(
                command, stdin=request.stdin, env=TOOL_ENV, cap=request.limits.output_bytes
            )
        except BaseException:
            if leaf is not None:
                await self.cgroups.remove(leaf)
            raise
        timed_out = False
        try:
            try:
                await asyncio.wait_for(asyncio.shield(child.exited), request.timeout_s)
            except TimeoutError:
                timed_out = True
            finally:
                # the command's children may outlive it: the group and the leaf go either way
                await asyncio.shield(self._stop(child, leaf))
            # the pipes close once every process holding them is gone
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(child.closed), DRAIN_AFTER_EXIT_S)
        finally:
            child.close()
        code = child.returncode
        return ExecOutcome(
            stdout=child.stdout.text(),
            stderr=child.stderr.text(),
            exit_code=124 if timed_out or code is None else code,
            duration_ms=(time.monotonic() - started) * 1000,
            timed_out=timed_out,
            truncated=child.stdout.truncated or child.stderr.truncated,
        )

    async def _stop(self, child: Spawned, cgroup: Cgroup | None) -> None:
        # the group id is the leader's pid (start_new_session); gone already is fine
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        if cgroup is not None:
            await self.cgroups.remove(cgroup)
        await child.exited

    async def release(self, group: str) -> None:
        await self.cgroups.release(group)
