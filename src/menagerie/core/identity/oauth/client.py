"""A provider's token endpoint, reached with authlib's httpx-based `AsyncOAuth2Client`.

Two calls: the authorization-code exchange (with the PKCE verifier and the redirect URI the
code was issued for) and the refresh. An OAuth error answer (RFC 6749 section 5.2) is
`Refused`, for the service to judge; a provider that cannot be reached, or answers with
something that is not a token, is `Unavailable`.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from menagerie.core.errors import Unavailable
from menagerie.core.identity.oauth.providers import OAuthProvider

try:  # authlib's httpx client is built on httpx2 when it is installed, else on httpx
    import httpx2 as _http
except ImportError:  # pragma: no cover - depends on the environment
    import httpx as _http  # type: ignore[no-redef]

log = logging.getLogger(__name__)

TIMEOUT_S = 15.0


def clip(value: Any, limit: int = 200) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:limit]


class Refused(Exception):
    """The provider refused: `error` is its OAuth error code (`invalid_grant` …)."""

    def __init__(self, error: str | None, description: str | None) -> None:
        super().__init__(error)
        self.error = error
        self.description = description

    def explain(self, title: str, what: str) -> str:
        text = f"{title} rejected the {what}: {self.error or 'error'}"
        return text + (f" ({self.description})" if self.description else "")


class TokenEndpoint:
    def __init__(self, config: OAuthProvider, *, timeout_s: float = TIMEOUT_S) -> None:
        if not config.client_id:
            raise ValueError(f"{config.name}: no client_id")
        self._config = config
        self._timeout = timeout_s

    def _client(self, redirect_uri: str | None = None) -> AsyncOAuth2Client:
        config = self._config
        return AsyncOAuth2Client(
            client_id=config.client_id,
            client_secret=config.client_secret,
            # Vercel, like most providers, takes the client's credentials in the form body; a
            # public client (no secret) is identified by its client_id and proves itself by PKCE
            token_endpoint_auth_method="client_secret_post" if config.client_secret else "none",
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self._timeout,
        )

    async def exchange_code(
        self, code: str, *, code_verifier: str, redirect_uri: str
    ) -> dict[str, Any]:
        async with self._client(redirect_uri) as client:
            return await self._call(
                client.fetch_token(
                    self._config.token_url,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
            )

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        async with self._client() as client:
            token = await self._call(
                client.refresh_token(self._config.token_url, refresh_token=refresh_token)
            )
        token.setdefault("refresh_token", refresh_token)  # a provider that does not rotate
        return token

    async def _call(self, request: Any) -> dict[str, Any]:
        config = self._config
        try:
            token = dict(await request)
        except OAuthError as exc:
            error: Any = exc.error
            description: Any = exc.description
            if isinstance(error, dict):  # some providers nest {"error": {"code", "message"}}
                error, description = error.get("code"), error.get("message")
            raise Refused(clip(error, 64), clip(description, 300)) from None
        except (_http.HTTPError, ValueError) as exc:
            log.warning("%s token endpoint failed: %s", config.name, type(exc).__name__)
            raise Unavailable(
                f"{config.title}'s token endpoint could not be reached or answered badly",
                reason=f"{config.name.upper()}_UNAVAILABLE",
                service=config.name,
            ) from exc
        if not isinstance(token.get("access_token"), str) or not token["access_token"]:
            raise Unavailable(
                f"{config.title}'s token endpoint answered without an access token",
                reason=f"{config.name.upper()}_TOKEN_EXCHANGE_FAILED",
                service=config.name,
            )
        return token
