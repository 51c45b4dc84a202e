"""Paths from clients, resolved inside a workspace, and files written without following links.

A client names a path as the sandbox sees it: relative to the working directory, or absolute
under it (`/vercel/sandbox/src`). Anything that leaves the workspace (`..`, another absolute
path, a symbolic link pointing out) is refused. Files are written by walking the directories
with `O_NOFOLLOW` from the workspace's own descriptor, so a link a sandboxed process swaps in
halfway cannot redirect the write.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from pathlib import Path

from menagerie.core.errors import Invalid

MAX_PATH = 1024


class PathEscape(Invalid):
    reason = "PATH_NOT_ALLOWED"


def inside(path: str, *, mount_point: str, field: str = "path") -> tuple[str, ...]:
    """The parts of `path` below the mount point; refuses anything that escapes it."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH or "\x00" in path:
        raise Invalid(
            f"{field} must be a path of 1 to {MAX_PATH} characters",
            field=field,
            received=path if isinstance(path, str) else None,
            expected="a path inside the sandbox",
        )
    joined = path if path.startswith("/") else posixpath.join(mount_point, path)
    normal = posixpath.normpath(joined)
    root = posixpath.normpath(mount_point)
    if normal != root and not normal.startswith(root.rstrip("/") + "/"):
        raise PathEscape(
            f"{field} {path!r} is outside the sandbox's directory {mount_point}",
            field=field,
            received=path,
            expected=f"a path under {mount_point}",
        )
    relative = posixpath.relpath(normal, root)
    return () if relative == "." else tuple(relative.split("/"))


def host_directory(workspace: Path, parts: tuple[str, ...], *, field: str = "cwd") -> Path:
    """The host directory for in-sandbox `parts`, refusing links that lead out of it."""
    target = workspace.joinpath(*parts)
    real_root = workspace.resolve()
    try:
        real = target.resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        raise Invalid(
            f"{field} does not exist in the sandbox",
            field=field,
            received="/".join(parts) or ".",
            expected="an existing directory",
        ) from None
    if real != real_root and real_root not in real.parents:
        raise PathEscape(
            f"{field} leads outside the sandbox's directory",
            field=field,
            received="/".join(parts),
            expected="a directory inside the sandbox",
        )
    if not real.is_dir():
        raise Invalid(
            f"{field} is not a directory",
            field=field,
            received="/".join(parts),
            expected="a directory",
        )
    return real


_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _parent(workspace: Path, parts: tuple[str, ...], *, create: bool, uid: int | None) -> int:
    """A descriptor of the directory holding `parts[-1]`, walked from the workspace one
    component at a time with `O_NOFOLLOW` (made on the way when `create`)."""
    fd = os.open(workspace, _DIRECTORY)
    try:
        for name in parts[:-1]:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=fd)
                    if uid is not None:
                        os.chown(name, uid, uid, dir_fd=fd, follow_symlinks=False)
            try:
                child = os.open(name, _DIRECTORY, dir_fd=fd)
            except OSError:
                raise PathEscape(
                    f"{name!r} is not a directory of the sandbox (or is a link)",
                    field="path",
                    received="/".join(parts),
                    expected="a path inside the sandbox",
                ) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_file(
    workspace: Path, parts: tuple[str, ...], data: bytes, *, uid: int | None = None
) -> None:
    """Write `data` at `parts` under the workspace, creating directories; no link followed."""
    if not parts:
        raise PathEscape("a file needs a name", field="path", received="", expected="a file")
    fd = _parent(workspace, parts, create=True, uid=uid)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            out = os.open(parts[-1], flags, 0o644, dir_fd=fd)
        except OSError as exc:
            raise PathEscape(
                f"cannot write {'/'.join(parts)!r}: {exc.strerror or 'refused'}",
                field="path",
                received="/".join(parts),
                expected="a regular file inside the sandbox",
            ) from None
        try:
            if not stat.S_ISREG(os.fstat(out).st_mode):
                raise PathEscape(
                    "not a regular file", field="path", received="/".join(parts), expected="file"
                )
            view = memoryview(data)
            while view:
                written = os.write(out, view)
                view = view[written:]
            if uid is not None:
                os.fchown(out, uid, uid)
        finally:
            os.close(out)
    finally:
        os.close(fd)


def read_file(workspace: Path, parts: tuple[str, ...], *, limit: int) -> bytes:
    """Read up to `limit` bytes of a file under the workspace; no link followed."""
    if not parts:
        raise PathEscape("a file needs a name", field="path", received="", expected="a file")
    fd = _parent(workspace, parts, create=False, uid=None)
    try:
        inner = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        try:
            if not stat.S_ISREG(os.fstat(inner).st_mode):
                raise PathEscape(
                    "not a regular file", field="path", received="/".join(parts), expected="file"
                )
            return os.read(inner, limit)
        finally:
            os.close(inner)
    except OSError as exc:
        raise Invalid(
            f"cannot read {'/'.join(parts)!r}: {exc.strerror or 'refused'}",
            field="path",
            received="/".join(parts),
            expected="a readable file inside the sandbox",
        ) from None
    finally:
        os.close(fd)
