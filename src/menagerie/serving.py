"""`menagerie serve --workers N`: how many worker processes, and what runs once for all of them.

uvicorn's workers are replicas of the server on one port and one machine: each builds its own
Platform, and whatever the server shares across replicas (PostgreSQL or the SQLite file, the
Redis event bus, socket.io manager and rate-limit counters) it shares across workers. Without
Redis those stay per process, so more than one worker then needs Redis.

What a lone server does at its start and N workers starting together would race on, or repeat,
the parent does once before uvicorn spawns them: the key files, the migrations (SQLite has no
advisory lock) and the first-start bootstrap that prints the admin token. The Panthers
deployments a stopped server left running are resumed by one worker of the N (`claim_once`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path

from menagerie.settings import Settings

# set by the parent for its workers: names this `serve` so that its workers can elect one of
# themselves for what must happen once (a file per task under the data directory)
SERVE_ID_VARIABLE = "MENAGERIE_SERVE_ID"
ONCE_DIR = ".serve"


class WorkersRefused(ValueError):
    """A worker count that cannot work as asked: the message is one sentence for the CLI."""


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    workers: int
    line: str  # the start line: how many workers, and why


def cores() -> int:
    """The cores this process may run on (its CPU affinity, as a container limits it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def plan(settings: Settings, requested: int | None, *, reload: bool = False) -> WorkerPlan:
    """The number of workers: `requested` (--workers or MENAGERIE_WORKERS) when it can work,
    else one per core when Redis is configured, else one; WorkersRefused where it cannot."""
    available = cores()
    source = f"--workers {requested}" if requested is not None else None
    requested = requested if requested is not None else settings.workers
    source = source or f"MENAGERIE_WORKERS={requested}"
    fixed_ports = sorted(e.name for e in settings.llm_endpoints if e.kind == "process")
    if requested is not None and requested > 1:
        if reload:
            raise WorkersRefused("--reload runs one worker: drop --workers or --reload")
        if not settings.redis_url:
            raise WorkersRefused(
                f"{requested} workers need MENAGERIE_REDIS_URL: without Redis each worker "
                "would keep its own event bus, socket.io rooms and rate-limit counters"
            )
        if fixed_ports:
            raise WorkersRefused(
                f"{requested} workers cannot share the managed model endpoints "
                f"{', '.join(fixed_ports)} (MENAGERIE_LLM_ENDPOINTS, kind process): each "
                "listens on one fixed port of this machine; run one worker, or serve the model "
                "apart and configure it as a provider"
            )
    if requested is not None:
        return WorkerPlan(requested, f"{_count(requested)} ({source})")
    if reload:
        return WorkerPlan(1, "one worker (--reload)")
    if not settings.redis_url:
        return WorkerPlan(
            1, f"one worker: set MENAGERIE_REDIS_URL to use all {_count(available, 'core')}"
        )
    if fixed_ports:
        endpoints = (
            f"the managed endpoint {fixed_ports[0]} listens on a fixed port"
            if len(fixed_ports) == 1
            else f"the managed endpoints {', '.join(fixed_ports)} listen on fixed ports"
        )
        return WorkerPlan(1, f"one worker: {endpoints}")
    return WorkerPlan(available, f"{_count(available)}, one per core (--workers to change)")


def _count(n: int, what: str = "worker") -> str:
    return f"one {what}" if n == 1 else f"{n} {what}s"


async def prepare_once(settings: Settings) -> None:
    """In the parent, before any worker starts: what each would otherwise do at once.

    The key files exist before any worker reads them; the schema is at head (the workers are
    then told not to migrate); the default tenant and its admin exist, and the admin's token is
    printed here, once, instead of by whichever worker won the race."""
    from menagerie.core.crypto import load_or_create_key
    from menagerie.core.identity.bootstrap import announce_admin_token
    from menagerie.core.identity.jwt import JwtCodec, load_or_create_secret
    from menagerie.core.identity.service import IdentityService
    from menagerie.storage import migrate
    from menagerie.storage.database import Database

    data_dir = settings.resolved_data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    jwt_secret = (
        settings.jwt_secret.get_secret_value()
        if settings.jwt_secret
        else load_or_create_secret(data_dir)
    )
    if not settings.encryption_key:
        load_or_create_key(data_dir)
    database = Database(
        settings.effective_database_url, connect_timeout=settings.database_connect_timeout
    )
    try:
        await database.wait_until_reachable(max(settings.database_connect_timeout, 1))
        if settings.migrate_on_start:
            await migrate.upgrade(database)
        identity = IdentityService(
            database,
            JwtCodec(jwt_secret),
            default_tenant=settings.default_tenant,
            master_key=settings.master_key.get_secret_value() if settings.master_key else None,
            dev_mode=settings.dev_mode,
        )
        result = await identity.bootstrap()
        if result.admin_token is not None:
            announce_admin_token(result)
    finally:
        await database.dispose()


def new_serve_id() -> str:
    """This `serve`'s id for its workers: the parent's pid, then a random part (a pid alone
    may come again after a reboot, and its markers with it)."""
    return f"{os.getpid()}-{secrets.token_hex(6)}"


def parent_pid() -> int | None:
    """In a worker of `serve --workers N`, the pid of the `menagerie serve` that spawned it."""
    serve_id = os.environ.get(SERVE_ID_VARIABLE, "")
    head = serve_id.split("-", 1)[0]
    return int(head) if head.isdigit() else None


async def exit_with_parent(parent: int, interval_s: float = 0.5) -> None:
    """SIGTERM this worker once its parent is gone: a `menagerie serve` killed outright (no
    chance to stop its workers) must not leave them serving its port as orphans."""
    # nothing tells a child that its parent ended: its parent pid changing is the sign
    while os.getppid() == parent:  # noqa: ASYNC110
        await asyncio.sleep(interval_s)
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own graceful shutdown


def claim_once(settings: Settings, task: str) -> bool:
    """Whether this process does `task`: true in a lone server; in the workers of one
    `serve --workers N`, true in exactly one of them, the first to ask (a worker uvicorn
    starts again after a crash finds it taken)."""
    serve_id = os.environ.get(SERVE_ID_VARIABLE)
    if not serve_id:
        return True
    marker = _once_dir(settings) / f"{serve_id}.{task}"
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return False
    return True


def forget(settings: Settings, serve_id: str) -> None:
    """The parent, as it ends: its workers' markers are of no further use."""
    for marker in _once_dir(settings).glob(f"{serve_id}.*"):
        with contextlib.suppress(OSError):
            marker.unlink()


def _once_dir(settings: Settings) -> Path:
    return settings.resolved_data_dir / ONCE_DIR
