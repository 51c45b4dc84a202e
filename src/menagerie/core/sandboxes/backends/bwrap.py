"""The bubblewrap backend: fresh namespaces, a read-only system, only the workspace writable.

The sandbox sees /usr read-only, the few /etc files that programs need to load libraries,
find alternatives and check certificates (never shadow, passwd or private keys), its own
/proc, /dev and /tmp, and the workspace at its mount point. The network is a namespace of its
own (loopback only) unless the sandbox allows it. Containers and AppArmor can break bwrap in
ways only a real run shows, so availability is the outcome of a self-test, failing closed.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from menagerie.core.sandboxes.backends.base import (
    BackendStatus,
    ExecOutcome,
    ExecRequest,
    Limits,
    Spawn,
)
from menagerie.core.sandboxes.backends.cgroups import Cgroup
from menagerie.core.sandboxes.backends.launcher import MIB, TOOL_ENV, Launcher
from menagerie.core.sandboxes.backends.seccomp import no_user_namespaces

NOT_INSTALLED = "bubblewrap is not installed (apt-get install bubblewrap)"
ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "ssl/certs",
    "ssl/openssl.cnf",
    "ca-certificates",
    "ca-certificates.conf",
    "nsswitch.conf",
    "hosts",
    "host.conf",
    "gai.conf",
    "protocols",
    "services",
    "mime.types",
    "localtime",
    "timezone",
    "perl",
    "python3",
)
SHM_BYTES = 64 * MIB
SELF_TEST_UID = 199_999  # as root, the self-test runs as a sandbox user would
SELF_TEST_TIMEOUT_S = 10.0
SELF_TEST_SCRIPT = (
    "echo ok; readlink /proc/self/ns/net;"
    " (cat /etc/shadow) >/dev/null 2>&1 && echo shadow-readable;"
    " (: > /usr/.menagerie-probe) 2>/dev/null && echo usr-writable;"
    " /usr/bin/unshare -U /bin/true 2>/dev/null && echo userns-allowed;"
    " exit 0"
)


MOUNTED = frozenset({"/usr", "/proc", "/dev", "/dev/shm", "/tmp"})  # noqa: S108
OPEN_OPTIONS = 'a=$1; shift; exec "$@" 8<"$a"'
OPEN_BOTH = 'f=$1 a=$2; shift 2; exec "$@" 9<"$f" 8<"$a"'
# a spawned server's `env -i NAME=value … program args`, shell-quoted, in one variable: read
# inside the sandbox by a shell already running as the sandbox's user, which becomes it
PROGRAM_VARIABLE = "MENAGERIE_PROGRAM"
DECODE = f'eval "set -- ${PROGRAM_VARIABLE}"; exec "$@"'


@dataclass(frozen=True, slots=True)
class _Layout:
    prefix: list[str]  # cgroup join and rlimits, ending in `--`
    options: list[str]  # bwrap's, without `--seccomp` and the final `--`
    inside: list[str]  # as root: the switch to the sandbox's user, inside the sandbox
    program: list[str]  # `env -i …` and the request's own argv
    privileged: bool


def _seccomp_file() -> str | None:
    """The filter against user namespaces, written once per process where root reads it."""
    program = no_user_namespaces()
    if program is None:
        return None
    directory = Path(tempfile.mkdtemp(prefix="menagerie-seccomp-"))
    path = directory / "no-userns.bpf"
    path.write_bytes(program)
    return str(path)


def _open_parents(paths: list[str]) -> list[str]:
    """`--perms 0755 --dir` for every parent directory of `paths`, outermost first."""
    parents: list[str] = []
    for path in paths:
        parts = path.strip("/").split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            parent = "/" + "/".join(parts[:depth])
            # mount points made already (a bind below /tmp): left as they are, 1777 and all
            if parent not in parents and parent not in MOUNTED:
                parents.append(parent)
    argv: list[str] = []
    for parent in parents:
        argv += ["--perms", "0755", "--dir", parent]
    return argv


def _extra_binds(paths: tuple[Path, ...]) -> list[str]:
    """The request's read-only binds that /usr does not already hold, each once."""
    extra: list[str] = []
    for path in paths:
        text = os.path.normpath(str(path))
        if not text.startswith("/") or text == "/":
            raise ValueError(f"a read-only bind must be an absolute path below /: {path}")
        if text == "/usr" or text.startswith("/usr/") or text in extra:
            continue
        extra.append(text)
    return extra


def _root_entries() -> list[str]:
    """/bin, /lib … as on the host: symlinks into /usr on merged-/usr systems, else binds."""
    argv: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    return argv


class BwrapBackend:
    name = "bwrap"

    def __init__(self, launcher: Launcher | None = None, bwrap: str | None = None) -> None:
        self.launcher = launcher if launcher is not None else Launcher()
        self.bwrap = bwrap if bwrap is not None else shutil.which("bwrap", path="/usr/bin:/bin")
        self._tested: BackendStatus | None = None
        self._seccomp = _seccomp_file() if self.launcher.root else None
        self._spawn_dir: Path | None = None  # spawned servers' bwrap options, per group

    def status(self) -> BackendStatus:
        if self.bwrap is None or not os.access(self.bwrap, os.X_OK):
            return self._report(NOT_INSTALLED)
        if self.launcher.missing:
            return self._report(f"missing tools: {', '.join(self.launcher.missing)}")
        return self._tested or self._report("not self-tested yet")

    def _report(self, reason: str | None) -> BackendStatus:
        limits: dict[str, str | None] = {
            **self.launcher.holds(),
            "network": "namespace",
            "filesystem": "namespace",
        }
        return BackendStatus(self.name, reason is None, "isolated", reason, limits)

    async def self_test(self) -> BackendStatus:
        return await asyncio.to_thread(self.check)

    def check(self) -> BackendStatus:
        """Run a real command the way run() would; any surprise makes the backend unavailable.

        Synchronous, for choosing a backend at startup before an event loop runs.
        """
        if self.bwrap is None or not os.access(self.bwrap, os.X_OK) or self.launcher.missing:
            return self.status()
        with tempfile.TemporaryDirectory(prefix="menagerie-selftest-") as workspace:
            uid = SELF_TEST_UID if self.launcher.root else None
            if uid is not None:
                os.chown(workspace, uid, uid)
            request = ExecRequest(
                argv=["/bin/sh", "-c", SELF_TEST_SCRIPT],
                workspace=Path(workspace),
                mount_point="/workspace",
                cwd="/workspace",
                timeout_s=SELF_TEST_TIMEOUT_S,
                limits=Limits(memory_mb=256, max_processes=16),
                group=f"menagerie-selftest-{uuid.uuid4().hex[:12]}",
                uid=uid,
            )
            self._tested = self._report(self._problem(request))
        return self._tested

    def _problem(self, request: ExecRequest) -> str | None:
        cgroups = self.launcher.cgroups
        cgroup = None
        try:
            cgroup = self.launcher.leaf(request)
            done = subprocess.run(  # noqa: S603 - a fixed command line of ours
                self._command(request, cgroup),
                capture_output=True,
                timeout=request.timeout_s,
                env={"PATH": "/usr/bin:/bin"},
                cwd="/",
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as error:
            return f"bubblewrap self-test failed: {error}"
        finally:
            if cgroup is not None:
                cgroups.remove_blocking(cgroup)
            cgroups.remove_blocking(Cgroup(tuple(cgroups.paths(request.group))))
        output = done.stdout.decode(errors="replace").split()
        if done.returncode != 0 or output[:1] != ["ok"]:
            detail = done.stderr.decode(errors="replace").strip()[:300]
            return f"bubblewrap self-test failed (exit {done.returncode}): {detail}"
        if output[1:2] == [os.readlink("/proc/self/ns/net")]:
            return "bubblewrap self-test: the sandbox shares the host network"
        if "userns-allowed" in output:
            return "bubblewrap self-test: the sandbox may create user namespaces"
        if "shadow-readable" in output or "usr-writable" in output:
            return f"bubblewrap self-test: the sandbox reached host files ({output[2:]})"
        return None

    def argv(self, request: ExecRequest) -> list[str]:
        # the sandbox's own group, as for run(): the PID namespace ends what the command
        # started, so a terminal leaves no leaf behind when it closes
        return self._command(request, self.launcher.cgroups.group(request.group, request.limits))

    async def run(self, request: ExecRequest) -> ExecOutcome:
        # the PID namespace ends every process of the command with it: no leaf per command
        return await self.launcher.run(request, self._command, per_command=False)

    async def release(self, group: str) -> None:
        await self.launcher.release(group)
        self._forget_spawns(group)

    def spawn(self, request: ExecRequest) -> Spawn:
        """A long-lived sandboxed process: bwrap reads its options (the paths it binds) from a
        root-only file, and the program, its arguments and environment ride in one variable
        that a shell inside the sandbox, already as the sandbox's user, turns back into
        `env -i …`. The command line is then the same for every server, secrets included.

        The file stays until `release(group)`: whoever spawns may start the same command
        again (a server restarted after a crash)."""
        layout = self._layout(request, self.launcher.leaf(request), clearenv=False)
        options = self._options_file(request.group, layout.options)
        if layout.privileged:
            opener = ["/bin/sh", "-c", OPEN_BOTH, "sh", self._seccomp_path(), options]
            bwrap = [self._bwrap(), "--seccomp", "9", "--args", "8", "--"]
        else:
            opener = ["/bin/sh", "-c", OPEN_OPTIONS, "sh", options]
            bwrap = [self._bwrap(), "--args", "8", "--"]
        argv = [*layout.prefix, *opener, *bwrap, *layout.inside, "/bin/sh", "-c", DECODE, "sh"]
        return Spawn(argv, {**TOOL_ENV, PROGRAM_VARIABLE: shlex.join(layout.program)})

    def _options_file(self, group: str, options: list[str]) -> str:
        if any("\0" in option for option in options):
            raise ValueError("a path with a NUL byte")
        if self._spawn_dir is None:
            self._spawn_dir = Path(tempfile.mkdtemp(prefix="menagerie-spawn-"))  # 0700
        directory = self._spawn_dir / group
        directory.mkdir(mode=0o700, exist_ok=True)
        path = directory / f"{uuid.uuid4().hex}.args"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(b"".join(option.encode() + b"\0" for option in options))
        return str(path)

    def _forget_spawns(self, group: str) -> None:
        if self._spawn_dir is not None:
            shutil.rmtree(self._spawn_dir / group, ignore_errors=True)

    def _bwrap(self) -> str:
        if self.bwrap is None:
            raise RuntimeError(NOT_INSTALLED)
        return self.bwrap

    def _seccomp_path(self) -> str:
        if self._seccomp is None:
            raise RuntimeError("no seccomp filter against user namespaces for this machine")
        return self._seccomp

    def _command(self, request: ExecRequest, cgroup: Cgroup | None) -> list[str]:
        layout = self._layout(request, cgroup, clearenv=True)
        if layout.privileged:
            # bwrap reads the filter from descriptor 9, opened by the shell that joins the
            # cgroup (and that shell's exec chain ends in bwrap)
            prefix = self.launcher.prefix(
                request, cgroup, drop_caps=False, switch_uid=False, fds={9: self._seccomp_path()}
            )
            bwrap = [self._bwrap(), "--seccomp", "9"]
        else:
            prefix, bwrap = layout.prefix, [self._bwrap()]
        options = [*layout.options, "--"]
        return [*prefix, *bwrap, *options, *layout.inside, *layout.program]

    def _layout(self, request: ExecRequest, cgroup: Cgroup | None, *, clearenv: bool) -> _Layout:
        """The parts of a sandboxed command line; `clearenv=False` lets bwrap pass on the
        environment it was started with (the caller's spawn sets exactly that)."""
        self._bwrap()
        if not request.mount_point.startswith("/") or request.mount_point.rstrip("/") == "":
            raise ValueError(f"invalid mount point {request.mount_point!r}")
        tmp_bytes = str(request.limits.memory_mb * MIB)
        privileged = self.launcher.separate_uid(request)
        clear = ["--clearenv"] if clearenv else []
        if privileged:
            # root binds the workspace (its parents may be closed to the sandbox's user, as a
            # 0700 home or temp directory is), then the sandbox drops to its own user inside:
            # no user namespace, so nothing but SETUID/SETGID/SETPCAP survives, and only until
            # setpriv gives up every capability and the bounding set
            prefix = self.launcher.prefix(request, cgroup, drop_caps=False, switch_uid=False)
            self._seccomp_path()
            argv = ["--unshare-ipc", "--unshare-pid", "--unshare-uts"]
            argv += ["--unshare-cgroup-try"]
            if not request.network:
                argv.append("--unshare-net")
            argv += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
            argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            argv += ["--cap-add", "CAP_SETPCAP", *clear]
        else:
            # caps are left to bwrap: as uid 0 without them it could not map root into its
            # userns
            prefix = self.launcher.prefix(request, cgroup, drop_caps=False)
            argv = ["--unshare-all", "--unshare-user", "--disable-userns"]
            if request.network:
                argv.append("--share-net")
            argv += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", *clear]
        argv += ["--ro-bind", "/usr", "/usr", *_root_entries()]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        # fresh, size-bounded tmpfs inside the sandbox, not the host's shared directories;
        # as root, sticky and writable by all (the sandbox's user is not their owner).
        # Mounted before the binds, which may lie below /tmp (a work directory there)
        shared = ["--perms", "1777"] if privileged else []
        argv += [*shared, "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]  # noqa: S108
        argv += [*shared, "--size", tmp_bytes, "--tmpfs", "/tmp"]  # noqa: S108
        etc = [*ETC, "resolv.conf"] if request.network else ETC
        extra = _extra_binds(request.ro_binds)
        if privileged:
            # bwrap as root makes the directories it needs 0700: the sandbox's user must pass
            wanted = [f"/etc/{entry}" for entry in etc] + [request.mount_point, *extra]
            argv += _open_parents(wanted)
        for entry in etc:
            argv += ["--ro-bind-try", f"/etc/{entry}", f"/etc/{entry}"]
        for path in extra:
            argv += ["--ro-bind", path, path]
        argv += ["--bind", str(request.workspace), request.mount_point]
        # the root bwrap built (/etc, the mount point's parents) is read-only once built
        argv += ["--remount-ro", "/"]
        if privileged:
            # root without DAC capabilities may not enter the sandbox user's own directories:
            # the directory is changed after the switch, by env
            environ = self.launcher.environ(request, home=request.mount_point, cwd=request.cwd)
        else:
            argv += ["--chdir", request.cwd]
            environ = self.launcher.environ(request, home=request.mount_point)
        inside = self.launcher.drop_to(request) if privileged else []
        return _Layout(prefix, argv, inside, [*environ, *request.argv], privileged)
