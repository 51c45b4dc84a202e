"""Where an OAuth flow may send a browser: only to origins the operator configured.

A callback that redirects to whatever URL its query names is an open redirect: a link to
this server, after a real login, lands the user on a page of the attacker's choosing. So a
caller's `success_url` or `redirect_uri` must be on an allowed origin: one listed in
`MENAGERIE_OAUTH_REDIRECT_ORIGINS`, or this server's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from menagerie.core.errors import Invalid

MAX_URL_CHARS = 2000
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute http(s) URL, lower-cased, default port dropped;
    None when `url` is not one (or is spelled in a way browsers read differently)."""
    if len(url) > MAX_URL_CHARS or any(c == "\\" or ord(c) < 0x21 for c in url):
        # `https://evil\@good/` is good's to urlsplit and evil's to a browser
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def check_url(value: str, *, field: str) -> str:
    """An absolute http(s) URL, or `Invalid` naming `field`."""
    if origin_of(value) is None:
        raise Invalid(
            f"{field} must be an absolute http(s) URL",
            field=field,
            received=value[:200],
            expected="an absolute http(s) URL",
        )
    return value


class RedirectPolicy:
    """The origins a browser may be sent to after an OAuth step."""

    def __init__(self, origins: Iterable[str]) -> None:
        allowed = set()
        for entry in origins:
            origin = origin_of(entry.strip().rstrip("/"))
            if origin is None:
                raise ValueError(f"not an http(s) origin: {entry!r}")
            allowed.add(origin)
        self.origins = frozenset(allowed)

    def check(self, url: str, *, field: str, own: Iterable[str | None] = ()) -> str:
        """`url`, when its origin is allowed (configured, or one of `own`: this server's)."""
        check_url(url, field=field)
        origin = origin_of(url)
        allowed = self.origins | {o for o in (origin_of(u) for u in own if u) if o}
        if origin not in allowed:
            raise Invalid(
                f"{field} must be on an allowed redirect origin; {origin} is not one "
                "(MENAGERIE_OAUTH_REDIRECT_ORIGINS)",
                field=field,
                received=url[:200],
                expected="a URL on this server or a configured redirect origin",
                details={"origin": origin},
            )
        return url
