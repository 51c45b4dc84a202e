"""The URL guard: a configuration must not point the server at its own network (SSRF).

Resolving a name is a `getaddrinfo` call that may wait seconds on a slow resolver; it runs on
the event loop's resolver (a worker thread), so that one install never stalls every request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from menagerie.core.errors import Invalid
from menagerie.core.tools.secrets import scrub_text

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _internal(ip: _Address) -> str | None:
    """Why an address must not be reached from the server, or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _internal(ip.ipv4_mapped)
        if ip in _NAT64:
            return _internal(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and (reason := _internal(embedded)):
            return reason
    for attribute in ("loopback", "link_local", "multicast", "unspecified", "private", "reserved"):
        if getattr(ip, f"is_{attribute}"):
            return attribute.replace("_", "-")
    return None if ip.is_global else "non-public"


def _url_error(message: str, url: str) -> Invalid:
    return Invalid(
        message,
        field="url",
        received=scrub_text(url),
        expected="a public http(s) URL",
        reason="URL_NOT_ALLOWED",
    )


def _target(url: str) -> tuple[str, int | None]:
    """The host and port of an http(s) URL; raises for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except (ValueError, AttributeError):
        raise _url_error("Not a valid URL", str(url)) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise _url_error(
            f"Only http and https URLs are allowed, not {parts.scheme or 'none'!r}", url
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise _url_error("The URL has no host", url)
    return host, port


def _literal(host: str) -> _Address | None:
    """The address a host names literally (`10.0.0.1`, `::1`), or None for a name."""
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return None


async def _addresses(host: str, port: int | None, url: str) -> list[_Address]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _url_error(f"The host {host!r} could not be resolved", url) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise _url_error(f"The host {host!r} could not be resolved", url)
    return addresses


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that would let a configuration reach the server's own network.

    This checks the addresses the name has now; the HTTP client must still connect to one of
    them, or re-check, to defeat DNS rebinding.
    """
    host, port = _target(url)
    if allow_private:
        return
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        raise _url_error(f"The host {host!r} is this machine", url)
    for address in await _addresses(host, port, url):
        reason = _internal(address)
        if reason is not None:
            raise _url_error(
                f"The host {host!r} is a {reason} address ({address}); "
                "private network addresses are not allowed",
                url,
            )
