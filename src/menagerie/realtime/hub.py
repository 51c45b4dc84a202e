"""One socket.io server for every dialect that speaks socket.io, at the URL each client sets.

A client reaches a dialect's events three ways, all with the same authentication and events:

- the dialect's namespace on the root path: `io("http://host:port/podplay")` (socket.io reads
  the URL's path as a namespace), `/gary` likewise;
- the dialect's own path, `<prefix>/socket.io`: `io(base, {path: "/podplay/socket.io"})`, or
  Crazy Gary's documented `<base>/socket.io/?token=<jwt>`;
- the server's root, `io("http://host:port")`: the root dialect (`--dialect X`), else PodPlay.

Each connection belongs to one surface (a dialect's events), chosen from its namespace, or for
the default namespace `/` from the path it came through. A surface's rooms carry its name, so
one dialect's events never reach another's clients, even in the same namespace. A connection
refused (unknown namespace, missing, invalid or expired token) is told why: the
`connect_error` a client sees carries a message and the dialect's error body as its data.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs

import socketio
from socketio.exceptions import ConnectionRefusedError as Refused

from menagerie.core.errors import CredentialsMissing
from menagerie.core.identity.models import Principal

log = logging.getLogger(__name__)
DEFAULT = "/"
SOCKET_PATH = "/socket.io"


@dataclass(slots=True)
class Connection:
    """One client of one surface: its socket id, namespace and principal."""

    hub: Hub
    sid: str
    namespace: str
    surface: str
    environ: dict[str, Any] = field(repr=False)
    principal: Principal | None = None

    @property
    def user(self) -> Principal:
        assert self.principal is not None, "the surface's connect sets the principal"
        return self.principal

    async def emit(self, event: str, data: Any) -> None:
        await self.hub.server.emit(event, data, to=self.sid, namespace=self.namespace)

    async def join(self, room: str) -> None:
        await self.hub.server.enter_room(
            self.sid, self.hub.room(self.surface, room), self.namespace
        )

    async def emit_room(self, room: str, event: str, data: Any, *, skip_self: bool = True) -> None:
        """To everyone of this surface in `room`, in every namespace it is served on."""
        await self.hub.emit_room(
            self.surface, room, event, data, skip_sid=self.sid if skip_self else None
        )


Handler = Callable[[Connection, Any], Awaitable[None]]


class Surface(Protocol):
    """A dialect's socket.io events."""

    name: str

    async def connect(self, connection: Connection, auth: Any) -> None:
        """Authenticate (set `connection.principal`) and greet; raise `Refused` to refuse."""

    @property
    def handlers(self) -> Mapping[str, Handler]:
        """The client events this surface answers, by name."""


def token_of(environ: Mapping[str, Any], auth: Any) -> str | None:
    """`auth: {token}` as socket.io clients send it, or `?token=` in the URL."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return auth["token"]
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    return (query.get("token") or [None])[0]


async def principal_for(identity: Any, environ: Mapping[str, Any], auth: Any) -> Principal:
    """Who connects: the token's principal, dev mode's without one, else CredentialsMissing.
    `identity` is the platform's IdentityService."""
    token = token_of(environ, auth)
    if token:
        principal: Principal = await identity.authenticate_bearer(token)
        return principal
    if identity.dev_mode:
        dev: Principal = identity.dev_principal()
        return dev
    raise CredentialsMissing("authentication required: connect with auth: {token} or ?token=")


class Hub:
    """Routes every namespace's connections and events to their surface."""

    def __init__(
        self,
        server: socketio.AsyncServer,
        surfaces: Mapping[str, Surface],
        *,
        prefixes: Mapping[str, str],
        root: str,
        on_connections: Callable[[str, int], None] | None = None,
    ) -> None:
        """`prefixes` maps a dialect's mount path (`/podplay`) to its surface's name; `root`
        is the surface of the default namespace on the server's root path. `on_connections`
        is told (surface, +1 or -1) as each accepted connection opens and closes."""
        self.server = server
        self._on_connections = on_connections
        self._surfaces = dict(surfaces)
        self._prefixes = dict(prefixes)
        self._root = root
        self._connections: dict[tuple[str, str], Connection] = {}
        server.on("connect", self._connect, namespace="*")
        server.on("disconnect", self._disconnect, namespace="*")
        server.on("*", self._event, namespace="*")

    @staticmethod
    def room(surface: str, name: str) -> str:
        return f"{surface}:{name}"

    def namespaces(self, surface: str) -> tuple[str, ...]:
        """Where a surface's clients may be: its own namespace, and the default one."""
        return (DEFAULT, f"/{surface}")

    def paths(self) -> list[str]:
        """The socket.io paths to mount: the root's and each surface's `<prefix>/socket.io`."""
        return [SOCKET_PATH, *(f"{prefix}{SOCKET_PATH}" for prefix in self._prefixes)]

    async def emit_room(
        self, surface: str, room: str, event: str, data: Any, *, skip_sid: str | None = None
    ) -> None:
        for namespace in self.namespaces(surface):
            await self.server.emit(
                event, data, room=self.room(surface, room), skip_sid=skip_sid, namespace=namespace
            )

    async def emit_local(self, surface: str, room: str, event: str, data: Any) -> None:
        """To this replica's clients only: every replica relays the same bus event."""
        for namespace in self.namespaces(surface):
            await self.server.emit(
                event, data, room=self.room(surface, room), namespace=namespace, ignore_queue=True
            )

    def _surface_of(self, namespace: str, environ: Mapping[str, Any]) -> str | None:
        if namespace != DEFAULT:
            name = namespace.removeprefix("/")
            return name if name in self._surfaces else None
        path = str(environ.get("PATH_INFO", ""))
        head, found, _ = path.partition(SOCKET_PATH)
        if found and head in self._prefixes:
            return self._prefixes[head]
        return self._root

    async def _connect(
        self, namespace: str, sid: str, environ: dict[str, Any], auth: Any = None
    ) -> None:
        name = self._surface_of(namespace, environ)
        if name is None:
            served = ", ".join(sorted({DEFAULT} | {f"/{s}" for s in self._surfaces}))
            raise Refused(
                f"unknown namespace {namespace}; this server has {served}",
                {"reason": "UNKNOWN_NAMESPACE", "namespace": namespace},
            )
        connection = Connection(self, sid, namespace, name, environ)
        await self._surfaces[name].connect(connection, auth)
        self._connections[(namespace, sid)] = connection
        if self._on_connections is not None:
            self._on_connections(name, 1)

    async def _disconnect(self, namespace: str, sid: str, reason: Any = None) -> None:
        connection = self._connections.pop((namespace, sid), None)
        if connection is not None and self._on_connections is not None:
            self._on_connections(connection.surface, -1)

    def count(self, surface: str) -> int:
        """This replica's open connections of one surface."""
        return sum(1 for c in self._connections.values() if c.surface == surface)

    async def _event(self, event: str, namespace: str, sid: str, *args: Any) -> None:
        data = args[0] if args else None
        connection = self._connections.get((namespace, sid))
        if connection is None:
            return
        handler = self._surfaces[connection.surface].handlers.get(event)
        if handler is None:
            log.debug("%s sent %r, which %s does not answer", sid, event, connection.surface)
            return
        await handler(connection, data)
