"""Rate limits per route category and caller, with `X-RateLimit-*` headers on every response.

A dialect declares a `RateLimitTable`: its categories, the paths each covers and the limits its
seed documents. The middleware finds the request's category (first matching rule), keys the
counter by the caller's credential (a SHA-256 of the bearer token, session cookie or API key,
never the secret itself) or else by the client address, and counts the request before
anything else runs. Every response then carries `X-RateLimit-Limit`, `-Remaining`, `-Reset`
(epoch seconds) and, where the seed documents it, `-Window` (seconds); a request over the limit
is answered 429 in the dialect's own envelope, with `Retry-After`, and never reaches the app.

Overrides come from `Settings.rate_limits`, keyed `<dialect>.<category>` (format: see
`menagerie.core.ops.ratelimit`). Pure ASGI, so streaming responses pass straight through.

The client address is the ASGI peer: behind a reverse proxy, run uvicorn with
`--forwarded-allow-ips` so that it is the real client's, not the proxy's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from menagerie.core.errors import RateLimited
from menagerie.core.ops.ratelimit import (
    RateLimiter,
    RateLimitPolicy,
    RateLimitStatus,
    digest,
)
from menagerie.http.deps import CONSOLE_COOKIE, SESSION_COOKIE
from menagerie.http.errors import ErrorEnvelope
from menagerie.http.middleware import request_id_of

log = logging.getLogger(__name__)

# headers that name a caller, most specific first (Metamorph's dev mode names a vault)
_CREDENTIAL_HEADERS = (b"authorization", b"x-api-key", b"x-vault-id")


@dataclass(frozen=True)
class RateLimitRule:
    """One route category of a dialect and its default limits (`limits` notation)."""

    category: str
    limits: str
    # path prefixes inside the dialect, whole segments; `*` stands for any one segment
    # (`/agents/*/chat`); no paths: every path
    paths: tuple[str, ...] = ()
    # `address`: always count by client address, for routes whose callers are not signed in
    # yet (a made-up credential must not buy a fresh counter for password guessing)
    key_by: Literal["principal", "address"] = "principal"
    # `anonymous` / `authenticated`: the rule applies only to callers without / with one
    callers: Literal["any", "anonymous", "authenticated"] = "any"

    def matches(self, segments: Sequence[str], authenticated: bool) -> bool:
        if self.callers == "anonymous" and authenticated:
            return False
        if self.callers == "authenticated" and not authenticated:
            return False
        if not self.paths:
            return True
        return any(_prefix_matches(_segments(path), segments) for path in self.paths)


@dataclass(frozen=True)
class RateLimitTable:
    """A dialect's categories, matched in order; the last one should cover every path."""

    rules: tuple[RateLimitRule, ...]
    window_header: bool = False  # `X-RateLimit-Window`, where the seed documents it


def rate_limit_headers(status: RateLimitStatus, *, window_header: bool) -> list[tuple[str, str]]:
    headers = [
        ("X-RateLimit-Limit", str(status.limit)),
        ("X-RateLimit-Remaining", str(status.remaining)),
        ("X-RateLimit-Reset", str(status.reset)),
    ]
    if window_header:
        headers.append(("X-RateLimit-Window", str(status.window_seconds)))
    return headers


def install_rate_limits(
    app: Starlette,
    *,
    limiter: RateLimiter,
    dialect: str,
    table: RateLimitTable,
    envelope: ErrorEnvelope,
) -> None:
    """Resolve the table's limits now (a bad one fails the build, not a request) and add the
    middleware to `app`."""
    rules = [
        (rule, limiter.policy(f"{dialect}.{rule.category}", rule.limits)) for rule in table.rules
    ]
    known = {f"{dialect}.{rule.category}" for rule in table.rules}
    for name in limiter.overrides:
        if name.startswith(f"{dialect}.") and name not in known:
            log.warning(
                "rate_limits[%r] names no category of %s (its categories: %s)",
                name,
                dialect,
                ", ".join(sorted(known)),
            )
    app.add_middleware(
        RateLimitMiddleware,
        limiter=limiter,
        rules=rules,
        envelope=envelope,
        window_header=table.window_header,
    )


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        rules: Sequence[tuple[RateLimitRule, RateLimitPolicy]],
        envelope: ErrorEnvelope,
        window_header: bool = False,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.envelope = envelope
        self.window_header = window_header
        self.rules = list(rules)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limiter.enabled:
            await self.app(scope, receive, send)
            return
        credential = _credential(scope)
        segments = _segments(_route_path(scope))
        match = next(
            (
                (rule, policy)
                for rule, policy in self.rules
                if rule.matches(segments, credential is not None)
            ),
            None,
        )
        if match is None or match[1].unlimited:
            await self.app(scope, receive, send)
            return
        rule, policy = match
        if rule.key_by == "principal" and credential is not None:
            key = f"p:{digest(credential)}"
        else:
            key = f"a:{digest(_address(scope))}"
        try:
            status = await self.limiter.hit(policy, key)
        except RateLimited as error:
            response = self.envelope.render(error, request_id_of(scope))
            spent = RateLimitStatus(
                limit=error.limit,
                remaining=0,
                reset=int(error.reset_at.timestamp()),
                window_seconds=error.window_seconds,
            )
            for name, value in rate_limit_headers(spent, window_header=self.window_header):
                response.headers[name] = value
            await response(scope, receive, send)
            return
        if status is None:  # not counted (storage unreachable): no numbers to promise
            await self.app(scope, receive, send)
            return
        headers = rate_limit_headers(status, window_header=self.window_header)

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in headers:
                    response_headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_limits)


def _segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def _prefix_matches(pattern: Sequence[str], segments: Sequence[str]) -> bool:
    if len(pattern) > len(segments):
        return False
    return all(want in ("*", got) for want, got in zip(pattern, segments, strict=False))


def _route_path(scope: Scope) -> str:
    """The path inside this dialect's app, wherever it is mounted (`/podplay`, `/`)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :] or "/"
    return path


def _credential(scope: Scope) -> str | None:
    """The caller's credential as sent (unverified: a counter key, nothing more)."""
    found: dict[bytes, str] = {}
    cookie_header = None
    for name, value in scope.get("headers", ()):
        if name in _CREDENTIAL_HEADERS and value.strip():
            found.setdefault(name, value.decode("latin-1").strip())
        elif name == b"cookie":
            cookie_header = value.decode("latin-1")
    if b"authorization" in found:
        return found[b"authorization"]
    if cookie_header:
        cookies = cookie_parser(cookie_header)
        session = cookies.get(SESSION_COOKIE) or cookies.get(CONSOLE_COOKIE)
        if session:
            return f"cookie:{session}"
    for name in _CREDENTIAL_HEADERS[1:]:
        if name in found:
            return f"{name.decode()}:{found[name]}"
    return None


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"
