"""The matrix's vocabulary: who may call a route (`Access`), who calls it (`Caller`), one
declared route (`Row`) or socket handler (`SocketRow`), and the answer each caller is owed
(`verdict`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Access(StrEnum):
    PUBLIC = "public"  # anonymous callers allowed
    USER = "user"  # any signed-in user; what it lists is the caller's own
    TENANT = "tenant"  # any user of the tenant, on the tenant's shared objects (MCP servers)
    OWNER = "owner"  # a user on their own objects: anyone else is answered as if none existed
    ADMIN = "admin"  # admins of the caller's tenant (a plain user: 403)
    OPERATOR = "operator"  # admins of the operator's tenant, the default one


class Caller(StrEnum):
    ANONYMOUS = "anonymous"
    USER_A = "user A"  # owns the objects named in paths
    USER_B = "user B"  # a plain user of A's tenant
    OTHER_ADMIN = "other tenant's admin"
    ADMIN = "tenant admin"  # the admin of A's tenant: called on admin and operator rows only


PUBLIC, USER, TENANT, OWNER, ADMIN, OPERATOR = (
    Access.PUBLIC,
    Access.USER,
    Access.TENANT,
    Access.OWNER,
    Access.ADMIN,
    Access.OPERATOR,
)
PARAMETER = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Fixed:
    """A path parameter that names no object of A's: a catalogue entry, a service's name."""

    value: str


@dataclass(frozen=True)
class Row:
    """One route as its OpenAPI document names it (`/podplay/api/chat/history/{session_id}`).

    `params` maps a path parameter to the kind of A's object whose id fills it (or a
    `Fixed` value); `query` and `body` may name A's objects as `"{kind}"`. `refusal` is the
    status user B and the other tenant's admin get on an `owner` or `tenant` row (404: as if
    the object did not exist); an `operator` row refuses another tenant's admin (403).
    `other` overrides what the other tenant's admin gets. `spends` lists the kinds an allowed
    call uses up (deleted, uninstalled), made anew afterwards; `skip` names callers not
    called, with `note` saying why. `answers` gives a caller's answer outright where the row
    departs from its access level's usual one, `note` saying why. `echoes` marks a list of
    the caller's own earlier requests (request logs), where what it sent may come back.
    """

    dialect: str
    method: str
    path: str
    access: Access
    params: dict[str, str | Fixed] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    refusal: int | tuple[int, ...] = 404
    other: int | tuple[int, ...] | None = None
    spends: tuple[str, ...] = ()
    skip: tuple[Caller, ...] = ()
    fresh_credential: bool = False  # the call ends the caller's session (sign-out)
    answers: dict[Caller, int | tuple[int, ...]] = field(default_factory=dict)
    echoes: bool = False  # lists the caller's own earlier requests (request and error logs)
    note: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def parameters(self) -> list[str]:
        return PARAMETER.findall(self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class SocketRow:
    """A WebSocket route, or a socket.io surface's connection or client event."""

    dialect: str
    kind: str  # "websocket" | "socket.io"
    name: str  # the WebSocket's path (prefixed), or "connect" / the event's name
    access: Access
    note: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.dialect} {self.name}"


class RowFactory(Protocol):
    def __call__(self, spec: str, access: Access, **options: Any) -> Row: ...


def row_spec(dialect: str, prefix: str, params: dict[str, str | Fixed]) -> RowFactory:
    """`r("GET /api/x/{id}", OWNER, ...)`: a row of this dialect, its path prefixed, its path
    parameters filled from the dialect's `params` unless the row names its own."""

    def r(spec: str, access: Access, **options: Any) -> Row:
        method, path = spec.split(" ", 1)
        merged = {**params, **options.pop("params", {})}
        names = PARAMETER.findall(path)
        return Row(
            dialect,
            method,
            prefix + path,
            access,
            params={name: merged[name] for name in names if name in merged},
            **options,
        )

    return r


DENIED = (401, 403)


def _is(status: int, wanted: int | tuple[int, ...]) -> bool:
    return status in (wanted if isinstance(wanted, tuple) else (wanted,))


def verdict(row: Row, caller: Caller, status: int) -> str | None:
    """What is wrong with `status` as this caller's answer; None when it is the documented one."""
    if status >= 500 and not (status == 503 and "503" in row.note):
        return f"{status}: a server error"
    if caller in row.answers:
        wanted = row.answers[caller]
        return None if _is(status, wanted) else f"{status}, not {wanted}"
    access = row.access
    if caller is Caller.ANONYMOUS:
        if access is PUBLIC:
            return "refused an anonymous caller on a public route" if status == 401 else None
        return None if status == 401 else f"{status} to an anonymous caller, not 401"
    if access in (ADMIN, OPERATOR) and caller in (Caller.USER_A, Caller.USER_B):
        return None if status == 403 else f"{status} to a plain user on an admin route, not 403"
    if caller is Caller.OTHER_ADMIN:
        if row.other is not None:
            return None if _is(status, row.other) else f"{status}, not {row.other}"
        if access in (TENANT, OWNER):
            return None if _is(status, row.refusal) else f"{status}, not {row.refusal}"
        if access is OPERATOR:
            return None if status == 403 else f"{status}, not 403"
        if access is ADMIN and row.parameters and row.params:
            return None if _is(status, row.refusal) else f"{status}, not {row.refusal}"
        return f"{status}: refused" if status in DENIED else None
    if caller is Caller.USER_B and access is OWNER:
        return None if _is(status, row.refusal) else f"{status}, not {row.refusal}"
    # the caller is allowed: A on everything, B on user and tenant rows, the tenant's admin
    if status in DENIED:
        return f"{status}: refused an allowed caller"
    if status == 404 and row.params and any(not isinstance(v, Fixed) for v in row.params.values()):
        return "404: the caller's own object was not found (is the row's object the right one?)"
    return None


def callers_of(row: Row) -> list[Caller]:
    """Who calls the row, refused callers first, so that the allowed call that may use the
    object up (the owner's; the tenant admin's on admin rows) comes last."""
    order = [Caller.ANONYMOUS, Caller.USER_B, Caller.OTHER_ADMIN, Caller.USER_A]
    if row.access in (ADMIN, OPERATOR):
        order.append(Caller.ADMIN)
    return [caller for caller in order if caller not in row.skip]
