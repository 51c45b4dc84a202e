"""The server's own JWTs: HS256 with a key that never leaves the server."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt as pyjwt

from menagerie.core.clock import utcnow
from menagerie.core.errors import TokenExpired, Unauthorized
from menagerie.core.ids import new_id
from menagerie.core.keyfile import load_or_create

ALGORITHM = "HS256"
ISSUER = "menagerie"


def load_or_create_secret(data_dir: Path) -> str:
    """The signing key kept in the data directory (0600), created on first use."""
    return load_or_create(data_dir / "jwt_secret", lambda: secrets.token_urlsafe(48))


class JwtCodec:
    def __init__(self, secret: str) -> None:
        if len(secret) < 32:
            raise ValueError("MENAGERIE_JWT_SECRET must be at least 32 characters")
        self._secret = secret

    def encode(self, subject: str, *, ttl: timedelta, claims: dict[str, Any]) -> str:
        now = utcnow()
        payload = {
            **claims,
            "sub": subject,
            "iss": ISSUER,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": new_id("jti", 16),
        }
        return pyjwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def decode(self, token: str, *, token_type: str = "access") -> dict[str, Any]:
        try:
            claims = pyjwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],  # hard-coded: never trust the token's own `alg`
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except pyjwt.ExpiredSignatureError as exc:
            raise TokenExpired("token has expired") from exc
        except pyjwt.PyJWTError as exc:
            raise Unauthorized("invalid token") from exc
        if claims.get("typ", "access") != token_type:
            raise Unauthorized("wrong token type")
        return claims
