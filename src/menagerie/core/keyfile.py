"""Keys the server generates for itself and keeps in its data directory (mode 0600)."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path


def load_or_create(path: Path, make: Callable[[], str]) -> str:
    """The key stored at `path`, created with `make()` on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    # written whole to a file of our own, then linked into place: two processes starting
    # together keep one key (link refuses an existing name), and neither reads it half written
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise
            except OSError:  # a filesystem without hard links: create it in place, exclusively
                _create_exclusive(path, temporary.read_text())
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text().strip()


def _create_exclusive(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
