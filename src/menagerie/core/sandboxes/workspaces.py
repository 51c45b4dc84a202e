"""Development workspaces (PodPlay's word): sandboxes of a workspace kind, on the same service.

A workspace is a sandbox whose kind names what it runs on: `nixos` and `codespace` run on the
local sandbox backend (bubblewrap, a read-only host system with the workspace writable);
`docker` needs a Docker engine, which Menagerie does not drive yet, so it is refused rather
than quietly run as something else. Metamorph's sandboxes (kind `sandbox`) are not workspaces.
"""

from __future__ import annotations

from menagerie.core.errors import NotFound, Unavailable
from menagerie.core.identity.models import Principal
from menagerie.core.sandboxes.models import Sandbox
from menagerie.core.sandboxes.service import SandboxService

KINDS: tuple[str, ...] = ("nixos", "docker", "codespace")
# what the local backend can honestly stand for: a shell with the host's tools, isolated
LOCAL_KINDS: frozenset[str] = frozenset({"nixos", "codespace"})
PAGE = 100  # the service's largest page


def require_runnable(kind: str) -> None:
    """Refuse a kind no backend here can run (checked before anything is recorded)."""
    if kind not in LOCAL_KINDS:
        raise Unavailable(
            f"{kind} workspaces need a Docker engine, which this server does not drive; "
            f"create a {' or '.join(sorted(LOCAL_KINDS))} workspace instead",
            service="workspaces",
            reason="DOCKER_UNAVAILABLE" if kind == "docker" else "WORKSPACE_TYPE_UNAVAILABLE",
            details={"type": kind, "available_types": sorted(LOCAL_KINDS)},
        )


async def workspace(sandboxes: SandboxService, principal: Principal, workspace_id: str) -> Sandbox:
    """The caller's workspace; a Metamorph sandbox with that id is not one."""
    found = await sandboxes.get(principal, workspace_id)
    if found.kind not in KINDS or found.status == "terminated":
        raise NotFound(f"workspace {workspace_id} not found", reason="WORKSPACE_NOT_FOUND")
    return found


async def workspaces(
    sandboxes: SandboxService, principal: Principal, kind: str | None = None
) -> list[Sandbox]:
    """Every live workspace of the caller (of one kind), newest first.

    PodPlay's list has no paging, and a tier allows a few tens of workspaces at most, so the
    service's pages are read to the end.
    """
    found: list[Sandbox] = []
    offset = 0
    while True:
        page, total = await sandboxes.list(principal, kind=kind, limit=PAGE, offset=offset)
        found += [s for s in page if s.kind in KINDS and s.status != "terminated"]
        offset += len(page)
        if not page or offset >= total:
            return found
