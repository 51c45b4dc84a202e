"""The URL guard: a configuration must not point the server at its own network (SSRF).

`check_url` refuses a URL when it is installed or configured. That alone does not hold: the
name is resolved again when a connection is made, and a name server that answered a public
address to the check can answer a private one a moment later (DNS rebinding). So every
outbound MCP HTTP connection goes through `guarded_http_client`, whose network backend
resolves the name itself, checks every address it got, and connects to one of those very
addresses: no second lookup can differ. The name stays the request's `Host` and the TLS
server name (SNI), so virtual hosts and certificates work as before. The client takes no proxy
from the environment: a proxy would resolve the name itself, past the check.

Resolving a name is a `getaddrinfo` call that may wait seconds on a slow resolver; it runs on
the event loop's resolver (a worker thread), so that one install never stalls every request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore2
import httpx2

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
    # in the resolver's order, once each (it lists an address per protocol it knows)
    addresses = list(
        dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
    )
    if not addresses:
        raise _url_error(f"The host {host!r} could not be resolved", url)
    return addresses


async def resolve_checked(
    host: str, port: int | None, *, allow_private: bool, url: str | None = None
) -> list[_Address]:
    """The addresses `host` has now, every one of them checked: connect only to these.

    Raises `Invalid` (`URL_NOT_ALLOWED`) when any of them is internal and private addresses
    are not allowed: one private answer among public ones is how rebinding hides.
    """
    shown = url or (f"{host}:{port}" if port else host)
    host = host.rstrip(".").lower()
    if not allow_private and (host in _LOCAL_NAMES or host.endswith(".localhost")):
        raise _url_error(f"The host {host!r} is this machine", shown)
    addresses = await _addresses(host, port, shown)
    if allow_private:
        return addresses
    for address in addresses:
        reason = _internal(address)
        if reason is not None:
            raise _url_error(
                f"The host {host!r} is a {reason} address ({address}); "
                "private network addresses are not allowed",
                shown,
            )
    return addresses


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that would let a configuration reach the server's own network.

    This checks the addresses the name has now; connections are made through
    `guarded_http_client`, which checks them again and connects to what it checked.
    """
    host, port = _target(url)
    if allow_private:
        return
    await resolve_checked(host, port, allow_private=False, url=url)


class PinnedBackend(httpcore2.AsyncNetworkBackend):
    """httpcore's network backend, resolving and checking each name at connect time and
    connecting to the checked address itself (TLS then names the original host)."""

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve_checked(host, port, allow_private=self._allow_private)
        except Invalid as refused:
            raise httpcore2.ConnectError(refused.message) from None
        except TimeoutError:
            raise httpcore2.ConnectTimeout(f"resolving {host!r} took too long") from None
        failure: Exception | None = None
        for address in addresses:  # each in turn, as a resolving client would try them
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # `resolve_checked` never answers an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("MCP servers are reached over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PinnedTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, *, allow_private: bool) -> None:
        # no proxy from the environment (a proxy resolves names itself, past the check)
        super().__init__(trust_env=False)
        limits = httpx2.Limits()
        # httpx2 gives its transport no say over the network backend: the pool it built is
        # replaced by the same pool on the pinned backend
        self._pool = httpcore2.AsyncConnectionPool(
            # certificates as before: SSL_CERT_FILE / SSL_CERT_DIR are still honoured
            ssl_context=httpx2.create_ssl_context(trust_env=True),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(allow_private=allow_private),
        )


def guarded_http_client(
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
    *,
    allow_private: bool,
) -> httpx2.AsyncClient:
    """An HTTP client whose every connection goes to an address checked at connect time
    (the MCP SDK's client factory shape, plus the guard's one setting)."""
    return httpx2.AsyncClient(
        headers=headers,
        timeout=timeout if timeout is not None else httpx2.Timeout(30.0, read=300.0),
        auth=auth,
        transport=_PinnedTransport(allow_private=allow_private),
        trust_env=False,
    )
