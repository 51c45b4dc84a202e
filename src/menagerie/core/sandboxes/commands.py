"""Commands and files in a running sandbox: the allow-list, no shell, paths kept inside.

A command line is split like a shell would (`shlex`) and run as one program with its
arguments under the sandbox's backend and limits; its `cwd` and every file path are resolved
inside the workspace, and files are written without following links.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shlex
from pathlib import Path

from opentelemetry.trace import StatusCode

from menagerie.core.clock import utcnow
from menagerie.core.errors import Conflict, Forbidden, Invalid
from menagerie.core.identity.models import Principal
from menagerie.core.ops.tracing import TENANT
from menagerie.core.sandboxes import paths
from menagerie.core.sandboxes.backends.base import ExecRequest
from menagerie.core.sandboxes.models import (
    ExecResult,
    FileResult,
    FileWrite,
)
from menagerie.core.sandboxes.state import SandboxBase
from menagerie.core.sandboxes.tables import SandboxRow

DEFAULT_TIMEOUT_MS = 30_000  # seed 003
MAX_COMMAND = 8192


class Commands(SandboxBase):
    async def execute(
        self,
        principal: Principal,
        sandbox_id: str,
        command: str,
        *,
        cwd: str | None = None,
        timeout_ms: int | None = None,
    ) -> ExecResult:
        row = await self._running(principal, sandbox_id)
        argv = self._parse(command, row)
        timeout = DEFAULT_TIMEOUT_MS if timeout_ms is None else timeout_ms
        if isinstance(timeout, bool) or not 1 <= timeout <= self.settings.max_exec_timeout_ms:
            raise Invalid(
                f"timeout must be between 1 and {self.settings.max_exec_timeout_ms} ms",
                field="timeout",
                received=timeout,
                expected=f"1-{self.settings.max_exec_timeout_ms}",
            )
        return await self._run(principal, row, argv, self._cwd(row, cwd), timeout / 1000)

    async def run_program(
        self,
        principal: Principal,
        sandbox_id: str,
        argv: list[str],
        *,
        cwd: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_MS / 1000,
        read_only: tuple[Path, ...] = (),
    ) -> ExecResult:
        """One of the platform's own programs (an analyser) in the caller's running sandbox:
        `argv` as given, not held to the sandbox's allow-list (its user did not type it), with
        the host paths it needs (its interpreter, its packages) bound read-only."""
        row = await self._running(principal, sandbox_id)
        return await self._run(
            principal, row, argv, self._cwd(row, cwd), timeout_s, read_only=read_only
        )

    async def _run(
        self,
        principal: Principal,
        row: SandboxRow,
        argv: list[str],
        inner: str,
        timeout_s: float,
        *,
        read_only: tuple[Path, ...] = (),
    ) -> ExecResult:
        request = self._request(row, argv, inner, timeout_s)
        if read_only:
            request = dataclasses.replace(request, ro_binds=read_only)
        # a child of the current span: the request's, or the tool call's of an agent
        with self._tracer.start_as_current_span(
            "sandbox.exec",
            attributes={
                "menagerie.sandbox.id": row.id,
                "process.executable.name": argv[0],
                TENANT: principal.tenant_id,
            },
        ) as span:
            outcome = await self.backend.run(request)
            span.set_attribute("process.exit.code", outcome.exit_code)
            span.set_attribute("menagerie.sandbox.timed_out", outcome.timed_out)
            if outcome.timed_out:
                span.set_status(StatusCode.ERROR, "timed out")
        result = "timeout" if outcome.timed_out else "ok" if outcome.exit_code == 0 else "failed"
        self._executed(result, outcome.duration_ms / 1000)
        await self._record_execution(row)
        return ExecResult(
            outcome.stdout,
            outcome.stderr,
            outcome.exit_code,
            round(outcome.duration_ms),
            outcome.timed_out,
            outcome.truncated,
        )

    async def write_files(
        self, principal: Principal, sandbox_id: str, files: list[FileWrite]
    ) -> list[FileResult]:
        """Write each file; one refused path fails only itself."""
        if not files or len(files) > self.settings.max_files:
            raise Invalid(
                f"files must hold 1 to {self.settings.max_files} files",
                field="files",
                received=len(files),
                expected=f"1-{self.settings.max_files} files",
            )
        async with self._db.session() as session:
            row = await self._row(session, principal, sandbox_id)
            if row.status == "terminated":
                raise Conflict("the sandbox is terminated", reason="INVALID_STATE")
            row.last_activity_at = utcnow()
        workspace = self._workspace(row)
        results = []
        for item in files:
            results.append(await asyncio.to_thread(self._write_one, row, workspace, item))
        return results

    def _write_one(self, row: SandboxRow, workspace: Path, item: FileWrite) -> FileResult:
        data = item.content.encode()
        if len(data) > min(self.settings.max_file_bytes, row.disk_mb * 1024 * 1024):
            return FileResult(item.path, False, f"larger than {self.settings.max_file_bytes} bytes")
        try:
            parts = paths.inside(item.path, mount_point=row.working_directory)
            paths.write_file(workspace, parts, data, uid=row.uid)
        except Invalid as error:
            return FileResult(item.path, False, error.message)
        except OSError as error:
            return FileResult(item.path, False, error.strerror or "could not be written")
        return FileResult(item.path, True)

    async def read_file(
        self, principal: Principal, sandbox_id: str, path: str, *, limit: int = 64_000
    ) -> bytes:
        async with self._db.session() as session:
            row = await self._row(session, principal, sandbox_id)
        parts = paths.inside(path, mount_point=row.working_directory)
        return await asyncio.to_thread(paths.read_file, self._workspace(row), parts, limit=limit)

    async def terminal_request(
        self, principal: Principal, sandbox_id: str, argv: list[str]
    ) -> ExecRequest:
        """What a terminal session runs: the same sandbox as `execute`, with no time limit but
        the idle timeout."""
        row = await self._running(principal, sandbox_id)
        return self._request(row, argv, row.working_directory, row.timeout_minutes * 60.0)

    def _parse(self, command: str, row: SandboxRow) -> list[str]:
        if not isinstance(command, str) or not command.strip() or len(command) > MAX_COMMAND:
            raise Invalid(
                f"command must be text of 1 to {MAX_COMMAND} characters",
                field="command",
                received=command if isinstance(command, str) else None,
                expected="a command line",
                missing=not command,
            )
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise Invalid(
                f"command cannot be parsed: {exc}",
                field="command",
                received=command,
                expected="a command line (no shell syntax)",
            ) from None
        allowed = row.allowed_commands
        if allowed is not None and argv[0] not in allowed:
            raise Forbidden(
                f"Command not allowed. Allowed commands: {', '.join(allowed)}",
                reason="COMMAND_NOT_ALLOWED",
                details={"command": argv[0], "allowed": list(allowed)},
            )
        return argv

    def _cwd(self, row: SandboxRow, cwd: str | None) -> str:
        if cwd is None:
            return row.working_directory
        parts = paths.inside(cwd, mount_point=row.working_directory, field="cwd")
        paths.host_directory(self._workspace(row), parts)  # exists, and no link leads out
        return (
            "/".join([row.working_directory.rstrip("/"), *parts])
            if parts
            else (row.working_directory)
        )
