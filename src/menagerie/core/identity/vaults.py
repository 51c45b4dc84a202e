"""Vaults (Metamorph): a caller proves which vault it acts for with a JWT from the vault's
identity provider, or, in dev mode only, by naming the vault outright.

A vault is a tenant: its tenant row (`vault_<vaultId>`) is created the first time the vault is
seen, so that everything a vault owns carries an ordinary `tenant_id`.

Verification never trusts the token's own `alg`: a token is checked with HS256 against
`vault_jwt_secret`, or with RS256/ES256 against a key from `vault_jwks_url`, and nothing else.
`alg: none`, a wrong key, a tampered payload or an expired token are all `Unauthorized`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt as pyjwt
from sqlalchemy.exc import IntegrityError

from menagerie.core.errors import TokenExpired, Unauthorized, Unavailable
from menagerie.core.identity.models import Principal
from menagerie.core.identity.tables import TenantRow
from menagerie.settings import Settings
from menagerie.storage.database import Database

TENANT_PREFIX = "vault_"
# tenant ids are at most 64 characters, and the prefix takes 6 of them
VAULT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@|-]{0,57}$")
HMAC_ALGORITHMS = ("HS256",)
JWKS_ALGORITHMS = ("RS256", "ES256")
JWKS_TIMEOUT_S = 5.0
JWKS_CACHE_S = 300.0
LEEWAY_S = 30  # clock skew between us and the identity provider
MAX_TOKEN_CHARS = 8192  # far above any real JWT; refuses to parse megabytes of header
_KNOWN_TENANTS_MAX = 10_000


@dataclass(frozen=True, slots=True)
class VaultIdentity:
    """Who a Metamorph request acts for: a vault, and the subject the token names."""

    vault_id: str
    subject: str
    via: str  # vault_jwt | dev_mode

    @property
    def tenant_id(self) -> str:
        return tenant_id_for(self.vault_id)

    @property
    def principal(self) -> Principal:
        return Principal(self.tenant_id, _user_id(self.subject), frozenset(), via=self.via)


def tenant_id_for(vault_id: str) -> str:
    return TENANT_PREFIX + vault_id


def vault_id_of(principal: Principal) -> str | None:
    """The vault a principal acts for, or None when it is not a vault's."""
    if principal.tenant_id.startswith(TENANT_PREFIX):
        return principal.tenant_id[len(TENANT_PREFIX) :]
    return None


def _user_id(subject: str) -> str:
    # user ids are stored in 64-character columns; a longer subject keeps a stable digest
    if len(subject) <= 64:
        return subject
    return "sub_" + hashlib.sha256(subject.encode()).hexdigest()[:40]


def check_vault_id(vault_id: object) -> str:
    if not isinstance(vault_id, str) or not VAULT_ID.match(vault_id):
        raise Unauthorized(
            "vault id must be 1-58 characters of letters, digits and . _ : @ | -"
            " starting with a letter or digit"
        )
    return vault_id


class VaultVerifier:
    def __init__(
        self,
        database: Database,
        *,
        secret: str | None = None,
        jwks_url: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        dev_mode: bool = False,
        jwks_timeout_s: float = JWKS_TIMEOUT_S,
    ) -> None:
        self._db = database
        self._secret = secret or None
        self._audience = audience or None
        self._issuer = issuer or None
        self.dev_mode = dev_mode
        self._jwks: pyjwt.PyJWKClient | None = None
        if jwks_url:
            if urlsplit(jwks_url).scheme not in ("http", "https"):
                # urllib would also open file:// and ftp:// URLs
                raise ValueError("MENAGERIE_VAULT_JWKS_URL must be an http(s) URL")
            self._jwks = pyjwt.PyJWKClient(
                jwks_url, cache_keys=True, lifespan=JWKS_CACHE_S, timeout=jwks_timeout_s
            )
        # tenants already known to exist, so that a request costs no insert attempt
        self._known: set[str] = set()

    @classmethod
    def from_settings(cls, database: Database, settings: Settings) -> VaultVerifier:
        secret = settings.vault_jwt_secret
        return cls(
            database,
            secret=secret.get_secret_value() if secret else None,
            jwks_url=settings.vault_jwks_url,
            audience=settings.vault_jwt_audience,
            issuer=settings.vault_jwt_issuer,
            dev_mode=settings.dev_mode,
        )

    @property
    def configured(self) -> bool:
        return self._secret is not None or self._jwks is not None

    # -- credentials -> vault ------------------------------------------------------------------

    async def verify_token(self, token: str) -> VaultIdentity:
        """The vault a bearer JWT names, once its signature and claims check out."""
        claims = await self._decode(token)
        vault_id = claims["vaultId"] if "vaultId" in claims else claims.get("sub")
        if vault_id is None:
            raise Unauthorized("token names no vault (claim 'vaultId' or 'sub')")
        vault_id = check_vault_id(vault_id)
        subject = claims.get("sub")
        identity = VaultIdentity(
            vault_id, subject if isinstance(subject, str) and subject else vault_id, "vault_jwt"
        )
        await self._ensure_tenant(identity)
        return identity

    async def dev_vault(self, vault_id: str) -> VaultIdentity:
        """A vault named by the caller itself: dev mode only."""
        if not self.dev_mode:
            raise Unauthorized("naming a vault without a token is accepted only in dev mode")
        identity = VaultIdentity(check_vault_id(vault_id), vault_id, "dev_mode")
        await self._ensure_tenant(identity)
        return identity

    # -- verification --------------------------------------------------------------------------

    async def _decode(self, token: str) -> dict[str, Any]:
        if not self.configured:
            raise Unauthorized(
                "vault tokens cannot be verified: the server has neither "
                "MENAGERIE_VAULT_JWT_SECRET nor MENAGERIE_VAULT_JWKS_URL"
            )
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized("token is too long")
        try:
            # read unverified only to pick the verification path; each path fixes its algorithms
            alg = pyjwt.get_unverified_header(token).get("alg")
        except pyjwt.PyJWTError as exc:
            raise Unauthorized("token is not a well-formed JWT") from exc
        key: Any
        if alg in HMAC_ALGORITHMS and self._secret is not None:
            key, algorithms = self._secret, list(HMAC_ALGORITHMS)
        elif alg in JWKS_ALGORITHMS and self._jwks is not None:
            key, algorithms = await self._jwks_key(token), list(JWKS_ALGORITHMS)
        else:
            accepted = [
                *(HMAC_ALGORITHMS if self._secret is not None else ()),
                *(JWKS_ALGORITHMS if self._jwks is not None else ()),
            ]
            raise Unauthorized(f"token algorithm is not accepted (expected {'/'.join(accepted)})")
        try:
            return pyjwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_S,
                # a token without an expiry would be valid forever
                options={"require": ["exp"], "verify_aud": self._audience is not None},
            )
        except pyjwt.ExpiredSignatureError as exc:
            raise TokenExpired("token has expired") from exc
        except pyjwt.ImmatureSignatureError as exc:
            raise Unauthorized("token is not valid yet") from exc
        except pyjwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"token lacks the '{exc.claim}' claim") from exc
        except pyjwt.InvalidAudienceError as exc:
            raise Unauthorized("token audience is not accepted") from exc
        except pyjwt.InvalidIssuerError as exc:
            raise Unauthorized("token issuer is not accepted") from exc
        except pyjwt.PyJWTError as exc:
            raise Unauthorized("token signature or format is invalid") from exc

    async def _jwks_key(self, token: str) -> pyjwt.PyJWK:
        assert self._jwks is not None
        try:
            # PyJWKClient fetches with urllib, which blocks: off the event loop
            return await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        except pyjwt.PyJWKClientConnectionError as exc:
            raise Unavailable(
                "the vault identity provider's signing keys could not be fetched",
                service="vault_jwks",
            ) from exc
        except pyjwt.PyJWTError as exc:
            raise Unauthorized("no signing key of the vault identity provider matches") from exc

    # -- tenants -------------------------------------------------------------------------------

    async def _ensure_tenant(self, identity: VaultIdentity) -> None:
        tenant_id = identity.tenant_id
        if tenant_id in self._known:
            return
        # another request or replica may create it between our read and our insert
        with contextlib.suppress(IntegrityError):
            async with self._db.session() as session:
                if await session.get(TenantRow, tenant_id) is None:
                    session.add(TenantRow(id=tenant_id, name=f"Vault {identity.vault_id}"))
        if len(self._known) >= _KNOWN_TENANTS_MAX:
            self._known.clear()
        self._known.add(tenant_id)
