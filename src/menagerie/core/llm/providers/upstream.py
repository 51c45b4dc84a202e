"""Turning what an upstream said (an HTTP status, a body, a lost connection) into the
`ProviderError` kind the router acts on; shared by the SDK-backed adapters.

Every message that leaves here is scrubbed of the API key: upstreams sometimes echo the key
they refused, and a message travels to logs and to clients.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from menagerie.core.llm.errors import (
    ProviderAuthFailed,
    ProviderError,
    ProviderQuotaExhausted,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from menagerie.core.redact import Redactor

try:  # the SDKs moved to httpx2, a fork under its own namespace; errors may come from either
    import httpx2

    TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (httpx.HTTPError, httpx2.HTTPError)
    TIMEOUT_ERRORS: tuple[type[BaseException], ...] = (
        httpx.TimeoutException,
        httpx2.TimeoutException,
    )
    CONNECT_ERRORS: tuple[type[BaseException], ...] = (httpx.ConnectError, httpx2.ConnectError)
except ImportError:  # pragma: no cover - depends on the installed SDK versions
    TRANSPORT_ERRORS = (httpx.HTTPError,)
    TIMEOUT_ERRORS = (httpx.TimeoutException,)
    CONNECT_ERRORS = (httpx.ConnectError,)

try:  # google-genai talks through aiohttp instead of httpx whenever aiohttp is installed
    import aiohttp

    # its read timeouts surface as the builtin TimeoutError, not as one of its own errors
    TRANSPORT_ERRORS += (aiohttp.ClientError, TimeoutError)
    TIMEOUT_ERRORS += (aiohttp.ServerTimeoutError, aiohttp.ConnectionTimeoutError, TimeoutError)
    CONNECT_ERRORS += (aiohttp.ClientConnectorError,)
except ImportError:  # pragma: no cover - aiohttp is optional
    pass

_MESSAGE_LIMIT = 300
# OpenAI quotes the refused key, masked; even a masked fragment has no place in our messages
_QUOTED_KEY = re.compile(r"(?i)(incorrect api key provided)\s*:\s*\S+?\.?(?=\s|$)")


class Scrubber:
    """Removes one provider's API key (and credential-shaped strings) from upstream text."""

    def __init__(self, secret: str | None) -> None:
        self._redactor = Redactor([secret] if secret else [])
        self._secret = secret

    def __call__(self, text: str) -> str:
        if self._secret and self._secret in text:  # short keys escape Redactor's length floor
            text = text.replace(self._secret, "***redacted***")
        text = _QUOTED_KEY.sub(r"\1.", self._redactor(text))
        text = " ".join(text.split())
        return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def status_error(
    provider: str,
    status: int,
    message: str,
    *,
    quota: bool = False,
    auth: bool = False,
    retry_after_s: float | None = None,
    upstream_code: str | None = None,
) -> ProviderError:
    """The error for an HTTP error status; `quota`/`auth` carry what the body said beyond it."""
    details: dict[str, Any] = {}
    if upstream_code:
        details["upstream_code"] = upstream_code
    if retry_after_s is not None:
        details["retry_after_s"] = retry_after_s
    detail = f" ({status}): {message}" if message else f" ({status})"
    kwargs: dict[str, Any] = {"provider": provider, "status": status, "details": details}
    if auth or status in (401, 403):
        return ProviderAuthFailed(f"{provider} rejected the API key{detail}", **kwargs)
    if quota or status == 402:
        return ProviderQuotaExhausted(
            f"{provider} says the account is out of quota{detail}", **kwargs
        )
    if status == 429:
        return ProviderRateLimited(f"{provider} rate limit reached{detail}", **kwargs)
    if status >= 500 or status in (408, 409):  # 408/409: the upstream asks for a retry
        return ProviderUnavailable(f"{provider} is unavailable{detail}", **kwargs)
    return ProviderRejected(f"{provider} rejected the request{detail}", **kwargs)


def transport_error(
    provider: str, exc: BaseException, *, base_url: str | None, timeout_s: float, started: bool
) -> ProviderUnavailable:
    """A timeout, a refused connection or a stream cut midway: all worth a retry elsewhere."""
    where = f" at {base_url}" if base_url else ""
    root = root_transport_error(exc)
    if isinstance(root, TIMEOUT_ERRORS) or _is_timeout(exc):
        message, reason = f"{provider} did not answer within {timeout_s:g}s{where}", "timeout"
    elif isinstance(root, CONNECT_ERRORS):
        message, reason = f"could not connect to {provider}{where}", "connection_failed"
    elif started:
        message, reason = f"the answer from {provider} was cut off midway{where}", "stream_cut"
    else:
        message, reason = f"the connection to {provider} failed{where}", "connection_failed"
    return ProviderUnavailable(message, provider=provider, details={"reason": reason})


def incomplete_stream(provider: str, base_url: str | None) -> ProviderUnavailable:
    """The stream ended without the upstream saying it had finished: the answer is partial."""
    where = f" at {base_url}" if base_url else ""
    return ProviderUnavailable(
        f"the answer from {provider} ended before it was complete{where}",
        provider=provider,
        details={"reason": "stream_cut"},
    )


def unreadable(provider: str, exc: BaseException, base_url: str | None) -> ProviderUnavailable:
    """The upstream answered something the SDK could not parse (a broken chunk, bad JSON):
    a fault of that server, which another try or another provider may not share."""
    where = f" at {base_url}" if base_url else ""
    return ProviderUnavailable(
        f"{provider} sent an answer that could not be read ({type(exc).__name__}){where}",
        provider=provider,
        details={"reason": "malformed_response"},
    )


def retry_after(headers: Any) -> float | None:
    """Seconds from a `Retry-After` header (the seconds form; dates are rare upstream)."""
    if headers is None:
        return None
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _is_timeout(exc: BaseException) -> bool:
    name = type(exc).__name__
    return name in ("APITimeoutError", "TimeoutError", "ReadTimeout", "ConnectTimeout")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def root_transport_error(exc: BaseException) -> BaseException:
    """The httpx error an SDK wrapped, when there is one, for a precise classification."""
    for link in _chain(exc):
        if isinstance(link, TRANSPORT_ERRORS):
            return link
    return exc
