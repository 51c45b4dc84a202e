"""The process backend: limits without isolation, for hosts where bubblewrap cannot run.

The command runs in the workspace directory on the host, with a clean environment, under the
sandbox's OS user when the server runs as root, in a cgroup where one can be made, and with
rlimits. It sees the host's filesystem (as far as its user may) and the host's network:
`status()` says so, and the service decides whether that is acceptable.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path, PurePosixPath

from menagerie.core.sandboxes.backends.base import BackendStatus, ExecOutcome, ExecRequest
from menagerie.core.sandboxes.backends.cgroups import Cgroup
from menagerie.core.sandboxes.backends.launcher import Launcher

WEAK = "no filesystem or network isolation: commands see the host as their OS user"


def host_path(request: ExecRequest) -> Path:
    """The host directory standing for `request.cwd`, which must lie under the mount point."""
    mount, cwd = PurePosixPath(request.mount_point), PurePosixPath(request.cwd)
    if not cwd.is_absolute() or ".." in cwd.parts or not cwd.is_relative_to(mount):
        raise ValueError(f"cwd {request.cwd!r} is not inside {request.mount_point!r}")
    return request.workspace / cwd.relative_to(mount)


class ProcessBackend:
    name = "process"

    def __init__(self, launcher: Launcher | None = None) -> None:
        self.launcher = launcher if launcher is not None else Launcher()
        self._tested: BackendStatus | None = None

    def status(self) -> BackendStatus:
        if self.launcher.missing:
            return self._report(False, f"missing tools: {', '.join(self.launcher.missing)}")
        return self._tested or self._report(True, WEAK)

    def _report(self, available: bool, reason: str) -> BackendStatus:
        limits: dict[str, str | None] = {
            **self.launcher.holds(),
            "network": None,
            "filesystem": "uid" if self.launcher.root else None,
        }
        return BackendStatus(self.name, available, "weak", reason, limits)

    async def self_test(self) -> BackendStatus:
        if self.launcher.missing:
            return self.status()
        group = f"menagerie-selftest-{uuid.uuid4().hex[:12]}"
        try:
            with tempfile.TemporaryDirectory(prefix="menagerie-selftest-") as workspace:
                outcome = await self.run(
                    ExecRequest(
                        argv=["/bin/sh", "-c", "echo ok"],
                        workspace=Path(workspace),
                        mount_point="/workspace",
                        cwd="/workspace",
                        group=group,
                    )
                )
        except (OSError, ValueError) as error:
            self._tested = self._report(False, f"process self-test failed: {error}")
        else:
            ok = outcome.exit_code == 0 and outcome.stdout.strip() == "ok"
            problem = f"exit {outcome.exit_code}: {outcome.stderr.strip()[:300]}"
            self._tested = self._report(ok, WEAK if ok else f"process self-test failed ({problem})")
        finally:
            await self.release(group)
        return self._tested

    def argv(self, request: ExecRequest) -> list[str]:
        return self._command(request, self.launcher.leaf(request))

    async def run(self, request: ExecRequest) -> ExecOutcome:
        host_path(request)  # an invalid cwd fails before anything is made
        return await self.launcher.run(request, self._command)

    async def release(self, group: str) -> None:
        await self.launcher.release(group)

    def _command(self, request: ExecRequest, cgroup: Cgroup | None) -> list[str]:
        prefix = self.launcher.prefix(request, cgroup, drop_caps=True)
        # the directory is entered as the sandbox's user, by the last step (`env --chdir`)
        environ = self.launcher.environ(
            request, home=str(request.workspace), cwd=str(host_path(request))
        )
        return [*prefix, *environ, *request.argv]
