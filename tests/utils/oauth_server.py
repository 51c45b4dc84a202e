"""A local OAuth 2.0 authorization server, as strict as a real one (Vercel's flow).

Authorization code grant with PKCE S256 (required) and refresh tokens. The token endpoint
checks the client's credentials (form body or HTTP Basic), the code (known, unspent, unexpired,
issued to this client), the redirect URI (exactly the one the code was issued for) and the
code verifier against the challenge, and answers errors as RFC 6749 says. Every token request
is recorded. There is no login page: `/oauth/authorize` approves at once (or refuses, when
told to) and redirects like a browser would be.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import SecretStr

from tests.utils.server import serve

SCOPES = ["user:read", "team:read", "sandbox:create", "sandbox:manage"]


@dataclass
class IssuedCode:
    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    expires_at: float
    used: bool = False


@dataclass
class OAuthServer:
    client_id: str = "oac_menagerie_test"
    client_secret: str = field(default_factory=lambda: "ocs_" + secrets.token_urlsafe(24))
    user_id: str = "user_test123"
    team_id: str | None = "team_test456"
    expires_in: int = 3600
    code_ttl_s: float = 60.0
    # exact redirect URIs registered for the client; None accepts any http(s) URI
    redirect_uris: set[str] | None = None
    deny_next: bool = False  # the next authorization is refused by the "user"
    base_url: str = ""
    codes: dict[str, IssuedCode] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> client_id
    access_tokens: list[str] = field(default_factory=list)  # every one ever issued
    token_requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/oauth/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    def settings_update(self, **more: Any) -> dict[str, Any]:
        """What `settings.model_copy(update=...)` needs to point Menagerie here."""
        return {
            "vercel_client_id": self.client_id,
            "vercel_client_secret": SecretStr(self.client_secret),
            "vercel_authorize_url": self.authorize_url,
            "vercel_token_url": self.token_url,
            "vercel_scopes": list(SCOPES),
            **more,
        }

    def issued_secrets(self) -> list[str]:
        """Every access and refresh token handed out, to look for in responses."""
        return [*self.access_tokens, *self.refresh_tokens]

    # -- the app -----------------------------------------------------------------------------

    def build_app(self) -> FastAPI:
        app = FastAPI()
        app.get("/oauth/authorize")(self._authorize)
        app.post("/oauth/token")(self._token)
        return app

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id:
            return _error(400, "invalid_client", "unknown client_id")
        redirect_uri = q.get("redirect_uri", "")
        if self.redirect_uris is not None and redirect_uri not in self.redirect_uris:
            # never redirect to an unregistered URI: that is how codes get stolen
            return _error(400, "invalid_request", "redirect_uri is not registered")
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return _error(400, "invalid_request", "redirect_uri must be http(s)")
        state = q.get("state")
        if q.get("response_type") != "code":
            return _redirect(redirect_uri, error="unsupported_response_type", state=state)
        challenge = q.get("code_challenge", "")
        if q.get("code_challenge_method") != "S256" or len(challenge) != 43:
            return _redirect(
                redirect_uri, error="invalid_request", state=state,
                error_description="PKCE with S256 is required",
            )  # fmt: skip
        if self.deny_next:
            self.deny_next = False
            return _redirect(redirect_uri, error="access_denied", state=state)
        code = "occ_" + secrets.token_urlsafe(24)
        self.codes[code] = IssuedCode(
            self.client_id,
            redirect_uri,
            challenge,
            q.get("scope", ""),
            time.monotonic() + self.code_ttl_s,
        )
        return _redirect(redirect_uri, code=code, state=state)

    async def _token(self, request: Request) -> Response:
        # RFC 6749 3.2: the token endpoint takes form-encoded bodies, nothing else
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return _error(400, "invalid_request", "body must be application/x-www-form-urlencoded")
        body = (await request.body()).decode()
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        client_id, client_secret, method = _client_credentials(request, form)
        self.token_requests.append({**form, "client_auth": method, "client_id": client_id})
        if client_id != self.client_id or not secrets.compare_digest(
            client_secret or "", self.client_secret
        ):
            return _error(401, "invalid_client", "client authentication failed")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._exchange_code(form)
        if grant == "refresh_token":
            return self._refresh(form)
        return _error(400, "unsupported_grant_type", f"grant_type {grant!r}")

    def _exchange_code(self, form: dict[str, str]) -> Response:
        issued = self.codes.get(form.get("code", ""))
        if issued is None or issued.used or issued.expires_at < time.monotonic():
            return _error(400, "invalid_grant", "authorization code is invalid or expired")
        if issued.client_id != self.client_id:
            return _error(400, "invalid_grant", "code was issued to another client")
        if form.get("redirect_uri") != issued.redirect_uri:
            return _error(400, "invalid_grant", "redirect_uri does not match the authorization")
        verifier = form.get("code_verifier", "")
        if not 43 <= len(verifier) <= 128:
            return _error(400, "invalid_grant", "code_verifier is missing or malformed")
        if _s256(verifier) != issued.code_challenge:
            return _error(400, "invalid_grant", "PKCE verification failed")
        issued.used = True
        return self._issue(issued.scope)

    def _refresh(self, form: dict[str, str]) -> Response:
        token = form.get("refresh_token", "")
        if self.refresh_tokens.pop(token, None) != self.client_id:
            return _error(400, "invalid_grant", "refresh token is invalid")
        return self._issue(" ".join(SCOPES))

    def _issue(self, scope: str) -> Response:
        access = "vca_" + secrets.token_urlsafe(32)
        refresh = "vcr_" + secrets.token_urlsafe(32)
        self.access_tokens.append(access)
        self.refresh_tokens[refresh] = self.client_id
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "refresh_token": refresh,
                "scope": scope,
                "user_id": self.user_id,
                "team_id": self.team_id,
                "installation_id": "icfg_test789",
            },
            headers={"Cache-Control": "no-store"},
        )


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _client_credentials(
    request: Request, form: dict[str, str]
) -> tuple[str | None, str | None, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        decoded = base64.b64decode(header[6:]).decode()
        client_id, _, client_secret = decoded.partition(":")
        return client_id, client_secret, "client_secret_basic"
    return form.get("client_id"), form.get("client_secret"), "client_secret_post"


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _redirect(uri: str, **params: str | None) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return RedirectResponse(f"{uri}{'&' if '?' in uri else '?'}{query}", status_code=302)


@contextlib.asynccontextmanager
async def running_oauth_server(**options: Any) -> AsyncIterator[OAuthServer]:
    server = OAuthServer(**options)
    async with serve(server.build_app()) as base_url:
        server.base_url = base_url
        yield server


async def approve(authorization_url: str, **override: str) -> tuple[str, dict[str, str]]:
    """Play the user's browser at the provider: open the authorization URL (query parameters
    replaced by `override`), and return where the provider redirects and its parameters."""
    url = authorization_url
    if override:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()} | override
        url = parts._replace(query=urlencode(query)).geturl()
    async with httpx.AsyncClient(timeout=10) as browser:
        response = await browser.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return location, params
