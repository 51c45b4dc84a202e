"""Sandbox backends, and choosing one by name.

Choosing only picks what runs here; whether a weak backend may serve is the service's call,
made from the chosen backend's `status()`.
"""

from __future__ import annotations

import logging

from menagerie.core.sandboxes.backends.base import Backend
from menagerie.core.sandboxes.backends.bwrap import BwrapBackend
from menagerie.core.sandboxes.backends.launcher import Launcher
from menagerie.core.sandboxes.backends.process import ProcessBackend

log = logging.getLogger(__name__)

NAMES = ("auto", "bwrap", "process")


def select_backend(name: str | None) -> Backend:
    """ "bwrap", "process", or "auto"/None: bwrap when its self-test passes, else process.

    Runs the bwrap self-test (a real sandboxed command, some tens of milliseconds), so that
    the returned backend's `status()` is already a tested one.
    """
    choice = name or "auto"
    if choice not in NAMES:
        raise ValueError(f"unknown sandbox backend {name!r}: one of {', '.join(NAMES)}")
    launcher = Launcher()
    if choice == "process":
        return ProcessBackend(launcher)
    bwrap = BwrapBackend(launcher)
    tested = bwrap.check()
    if choice == "bwrap" or tested.available:
        return bwrap
    log.warning("sandboxes: bubblewrap unusable (%s); using the process backend", tested.reason)
    return ProcessBackend(launcher)


__all__ = ["Backend", "BwrapBackend", "ProcessBackend", "select_backend"]
