"""Typed values the identity service hands out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from menagerie.core.errors import Forbidden

ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: every service call is scoped by it."""

    tenant_id: str
    user_id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    via: str = "token"  # how it was authenticated: token, jwt, cookie, master_key, dev_mode
    session_id: str | None = None  # the signed-in session behind a JWT or cookie

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    def require_admin(self, action: str = "this action") -> Principal:
        """Operator actions: only an admin of the tenant may take them."""
        if not self.is_admin:
            raise Forbidden(f"{action} needs an admin", reason="ADMIN_REQUIRED")
        return self

    def may_act_for(self, user_id: str) -> bool:
        """The one rule for acting on someone's objects: a user acts for themself, and an
        admin for any user of its tenant."""
        return user_id == self.user_id or self.is_admin

    def acting_for(self, user_id: str | None) -> Principal:
        """Who a request acts as when it names a user (MADACE's `userId`, PodPlay's
        `user_id`): an admin acts as that user of its tenant, without admin rights; anyone
        else stays themself, since a client's user label is not a credential (seed clients
        send `default-user` whoever signed in)."""
        if not user_id or not self.may_act_for(user_id) or user_id == self.user_id:
            return self
        return Principal(self.tenant_id, user_id[:128], frozenset(), self.via, self.session_id)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    tenant_id: str
    email: str | None
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An API token at the one moment its plaintext exists."""

    id: str
    name: str
    token: str
    tenant_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    tenant_id: str
    admin_user_id: str
    admin_token: IssuedToken | None  # None when the server already had users


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a sign-in or a refresh hands out."""

    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token lives
    refresh_expires_in: int
    session_id: str
    token_type: str = "Bearer"


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    tenant_id: str
    user_id: str
    kind: str
    attributes: dict[str, object]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None
