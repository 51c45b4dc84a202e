"""What every sandbox backend is: a way to run one command in a workspace under limits.

A backend never decides policy (which commands, which tier): the sandbox service does, and
hands the backend a finished `ExecRequest`. A backend is honest about what it enforces:
`status()` names each limit and how it holds (`cgroup`, `rlimit`, `namespace`) or `None`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

Strength = Literal["isolated", "weak"]


@dataclass(frozen=True, slots=True)
class Limits:
    memory_mb: int = 2048
    vcpus: int = 2
    max_processes: int = 256
    cpu_seconds: int | None = None  # None: the wall-clock timeout bounds it
    file_size_mb: int = 512
    open_files: int = 1024
    output_bytes: int = 1_000_000  # per stream; more is cut and flagged `truncated`


@dataclass(frozen=True, slots=True)
class ExecRequest:
    argv: list[str]  # already parsed (shlex), never given to a shell by the backend
    workspace: Path  # host directory: the only writable place
    mount_point: str  # where the workspace appears inside the sandbox, e.g. /vercel/sandbox
    cwd: str  # inside the sandbox, at or under mount_point
    env: dict[str, str] = field(default_factory=dict)  # the whole environment; nothing inherited
    timeout_s: float = 30.0
    limits: Limits = field(default_factory=Limits)
    network: bool = False
    uid: int | None = None  # the OS user it runs as when the server may switch users (root)
    group: str = "default"  # the cgroup name: one per sandbox
    stdin: bytes | None = None
    # host paths the sandbox also sees, read-only and at the same path (a program's own
    # files, an interpreter outside /usr); backends that see the whole host ignore them
    ro_binds: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class ExecOutcome:
    stdout: str
    stderr: str
    exit_code: int  # the command's; -N when killed by signal N; 124 after the timeout
    duration_ms: float
    timed_out: bool = False
    truncated: bool = False  # output past `limits.output_bytes` was dropped


@dataclass(frozen=True, slots=True)
class Spawn:
    """How to start a long-lived sandboxed process ourselves: its command line and the
    environment to start that with (the sandbox sets the request's own environment inside)."""

    argv: list[str]
    env: dict[str, str]


@dataclass(frozen=True, slots=True)
class BackendStatus:
    name: str
    available: bool
    strength: Strength
    reason: str | None = None  # why it is unavailable, or what makes it weaker
    # limit -> how it holds ("cgroup", "rlimit", "namespace", "uid") or None where it does not
    limits: dict[str, str | None] = field(default_factory=dict)


class Backend(Protocol):
    name: str

    def status(self) -> BackendStatus: ...

    async def self_test(self) -> BackendStatus:
        """Run a real command under the backend; fail closed (unavailable) on any surprise."""
        ...

    def argv(self, request: ExecRequest) -> list[str]:
        """The full command line that runs `request.argv` inside the sandbox (terminals spawn
        it on a pty themselves)."""
        ...

    async def run(self, request: ExecRequest) -> ExecOutcome: ...

    async def release(self, group: str) -> None:
        """Forget a sandbox: kill what is left of its processes, remove its cgroups."""
        ...


@runtime_checkable
class Spawner(Protocol):
    """A backend that can start a long-lived process (a server) for its caller to own.

    Unlike `argv()`, the command line it gives names neither the request's program, its
    arguments, its environment nor its paths: a process's command line is readable by every
    host user in /proc for as long as it lives, and a server lives long."""

    def status(self) -> BackendStatus: ...

    def spawn(self, request: ExecRequest) -> Spawn: ...

    async def release(self, group: str) -> None: ...
