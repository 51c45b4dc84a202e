"""The sync service (MADACE's): while started, it watches the workflow state folders and the
configuration file (watchfiles) and sends each change to the connected clients of the
tenant whose file it is: `state_update` with the state file's document, `config_update` with
the configuration (never its secrets). Clients say `ping` and hear `pong`.

Core holds the clients, the watcher and the messages; the WebSocket transport is handed in
(`listen`, from `realtime/`) and so is every connection, as a `SyncConnection`. Stopping
closes every client and the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import watchfiles

from menagerie.core.clock import epoch_ms, monotonic, utcnow
from menagerie.core.errors import Forbidden, Invalid, Unavailable
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.projects.config import load_shown
from menagerie.core.projects.layout import STATE_SUFFIX, ProjectLayout

log = logging.getLogger(__name__)

PROBE_PREFIX = ".sync-ready-"  # written at start, to know the watcher sees the folders
READY_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 5.0
CLOSE_GOING_AWAY = 1001


class SyncConnection(Protocol):
    async def send(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class Listener(Protocol):
    async def close(self) -> None: ...


ListenFactory = Callable[["SyncService", str, int], Awaitable[Listener]]


@dataclass(slots=True)
class SyncClient:
    id: str
    tenant_id: str
    connection: SyncConnection
    connected_at: datetime = field(default_factory=utcnow)
    last_ping: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SyncStatus:
    running: bool
    port: int | None
    started_at: datetime | None
    uptime_ms: int
    clients: list[SyncClient]


@dataclass(slots=True)
class _Run:
    port: int
    state_dirs: list[Path]
    config_file: Path
    started_at: datetime
    started: float
    stop: asyncio.Event
    ready: asyncio.Event
    watcher: asyncio.Task[None] | None = None
    listener: Listener | None = None


def workflow_name_of(path: Path, document: dict[str, Any]) -> str:
    named = document.get("workflowName")
    if isinstance(named, str) and named:
        return named
    name = path.name.removesuffix(STATE_SUFFIX).removesuffix(".json")
    return name.removeprefix(".") or name


class SyncService:
    def __init__(
        self,
        layout: ProjectLayout,
        *,
        host: str,
        default_port: int = 3001,
        listen: ListenFactory | None = None,
        operator_tenant: str = "default",
    ) -> None:
        self.layout = layout
        # one service watches every tenant's files: only the operator's admins start or stop it
        self.operator_tenant = operator_tenant
        self.host = host
        self.default_port = default_port
        self.listen = listen
        self._clients: dict[str, SyncClient] = {}
        self._run: _Run | None = None
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._run is not None

    def status(self, principal: Principal) -> SyncStatus:
        run = self._run
        mine = [c for c in self._clients.values() if c.tenant_id == principal.tenant_id]
        return SyncStatus(
            running=run is not None,
            port=run.port if run else None,
            started_at=run.started_at if run else None,
            uptime_ms=int((monotonic() - run.started) * 1000) if run else 0,
            clients=mine,
        )

    async def start(
        self,
        principal: Principal,
        *,
        port: int | None,
        state_paths: list[str],
        config_path: str,
    ) -> tuple[SyncStatus, bool]:
        """Listen on `port` (None: the configured default) and watch the paths; (status,
        False) when it was already running. An admin of the operator's tenant only."""
        self._require_operator(principal, "starting the sync service")
        port = port or self.default_port
        state_dirs = [self.layout.resolve(p, "statePaths") for p in state_paths]
        config_file = self.layout.resolve(config_path, "configPath")
        if await asyncio.to_thread(config_file.is_dir):
            raise Invalid(
                "configPath must name the configuration file, not a folder",
                field="configPath",
                received=config_path,
            )
        async with self._lock:
            if self._run is not None:
                return self.status(principal), False
            if self.listen is None:
                raise Unavailable("no WebSocket transport configured", service="sync")
            for folder in [*state_dirs, config_file.parent]:
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as error:  # a file where a folder is named, say
                    raise Invalid(
                        f"a watched folder cannot be made: {error.strerror or error}",
                        field="statePaths",
                        received=self.layout.shown(folder),
                    ) from None
            run = _Run(
                port=port,
                state_dirs=state_dirs,
                config_file=config_file,
                started_at=utcnow(),
                started=monotonic(),
                stop=asyncio.Event(),
                ready=asyncio.Event(),
            )
            try:
                run.listener = await self.listen(self, self.host, port)
            except OSError as error:
                raise Invalid(
                    f"wsPort {port} cannot be listened on: {error.strerror or error}",
                    field="wsPort",
                    received=port,
                    reason="PORT_UNAVAILABLE",
                ) from None
            self._run = run
            run.watcher = asyncio.create_task(self._watch(run), name="sync-watcher")
            try:
                await self._await_ready(run)
            except BaseException:
                await self._stop_locked()
                raise
            log.info("sync service started on %s:%d", self.host, port)
            return self.status(principal), True

    async def _await_ready(self, run: _Run) -> None:
        """Until the watcher reports a probe file: changes made after `start` are seen."""
        probe = run.state_dirs[0] if run.state_dirs else run.config_file.parent
        path = probe / f"{PROBE_PREFIX}{secrets.token_hex(4)}"
        deadline = monotonic() + READY_TIMEOUT_S
        try:
            while not run.ready.is_set():
                if monotonic() > deadline or (run.watcher and run.watcher.done()):
                    raise Unavailable("the file watcher did not start", service="sync")
                await asyncio.to_thread(path.write_text, "probe")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(run.ready.wait(), 0.2)
        finally:
            path.unlink(missing_ok=True)

    async def stop(self, principal: Principal | None = None) -> None:
        """Stop listening and close every client: for an admin of the operator's tenant, or
        the platform itself (no principal) as it stops."""
        if principal is not None:
            self._require_operator(principal, "stopping the sync service")
        async with self._lock:
            await self._stop_locked()

    def _require_operator(self, principal: Principal, action: str) -> None:
        principal.require_admin(action)
        if principal.tenant_id != self.operator_tenant:
            raise Forbidden(
                "the sync service serves the whole server: only the operator's admins "
                "start or stop it",
                reason="OPERATOR_REQUIRED",
            )

    async def _stop_locked(self) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        run.stop.set()
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(
            *(self._close(c, CLOSE_GOING_AWAY, "sync service stopped") for c in clients)
        )
        if run.listener is not None:
            await run.listener.close()
        if run.watcher is not None:
            run.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run.watcher
        log.info("sync service stopped")

    # clients

    def attach(
        self, principal: Principal, connection: SyncConnection, metadata: dict[str, str]
    ) -> SyncClient:
        if self._run is None:
            raise Unavailable("the sync service is not running", service="sync")
        client = SyncClient(new_id("sync"), principal.tenant_id, connection, metadata=metadata)
        self._clients[client.id] = client
        return client

    def detach(self, client: SyncClient) -> None:
        self._clients.pop(client.id, None)

    async def received(self, client: SyncClient, text: str) -> None:
        """A client's message: `ping` is answered with `pong`; anything else is refused."""
        try:
            message = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError):
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            client.last_ping = utcnow()
            await self._send(client, {"type": "pong", "timestamp": epoch_ms()})
        elif kind != "pong":
            await self._send(
                client,
                {
                    "type": "error",
                    "message": "messages are JSON objects of type ping",
                    "timestamp": epoch_ms(),
                },
            )

    async def _send(self, client: SyncClient, message: dict[str, Any]) -> bool:
        try:
            await asyncio.wait_for(client.connection.send(json.dumps(message)), SEND_TIMEOUT_S)
            return True
        except Exception as error:  # a client gone or stuck: it is dropped, the others served
            log.info("sync client %s dropped: %s", client.id, type(error).__name__)
            self.detach(client)
            await self._close(client, CLOSE_GOING_AWAY, "send failed")
            return False

    async def _close(self, client: SyncClient, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.connection.close(code, reason), SEND_TIMEOUT_S)

    async def broadcast(self, owner: str, message: dict[str, Any]) -> int:
        """Send to the clients of the tenant whose `layout.key` is `owner`; how many got it."""
        targets = [c for c in self._clients.values() if self.layout.key(c.tenant_id) == owner]
        sent = await asyncio.gather(*(self._send(c, message) for c in targets))
        return sum(sent)

    # the watcher

    async def _watch(self, run: _Run) -> None:
        folders = sorted({*run.state_dirs, run.config_file.parent})
        async for changes in watchfiles.awatch(
            *folders, stop_event=run.stop, debounce=400, step=50, recursive=True
        ):
            paths = {Path(p) for kind, p in changes if kind != watchfiles.Change.deleted}
            for path in sorted(paths):
                if path.name.startswith(PROBE_PREFIX):
                    run.ready.set()
                    continue
                try:
                    await self._changed(run, path)
                except Exception:
                    log.exception("sync: a change of %s was not broadcast", path.name)

    async def _changed(self, run: _Run, path: Path) -> None:
        if path.name == run.config_file.name:
            owner = self.layout.owner_of(path, run.config_file.parent)
            config = await asyncio.to_thread(load_shown, path)
            if owner is not None and config is not None:
                await self.broadcast(
                    owner, {"type": "config_update", "config": config, "timestamp": epoch_ms()}
                )
            return
        if path.suffix != ".json":
            return
        for folder in run.state_dirs:
            owner = self.layout.owner_of(path, folder)
            if owner is None:
                continue
            document = await asyncio.to_thread(_read_json, path)
            if document is None:
                return
            state = {k: v for k, v in document.items() if k != "workflowName"}
            await self.broadcast(
                owner,
                {
                    "type": "state_update",
                    "workflowName": workflow_name_of(path, document),
                    "state": state,
                    "timestamp": epoch_ms(),
                },
            )
            return


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > 1024 * 1024:
            return None
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return loaded if isinstance(loaded, dict) else None
