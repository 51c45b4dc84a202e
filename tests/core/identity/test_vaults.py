"""Vault tokens: HS256 with the configured secret, RS256/ES256 from a JWKS endpoint on
loopback, and every forgery refused: `alg: none`, a wrong key, a tampered payload, an expired
token, an HS256 token signed with the public key (algorithm confusion)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select

from menagerie.core.clock import utcnow
from menagerie.core.errors import TokenExpired, Unauthorized, Unavailable
from menagerie.core.identity.tables import TenantRow
from menagerie.core.identity.vaults import VaultVerifier, tenant_id_for, vault_id_of
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.server import serve

SECRET = "vault-test-secret-0123456789abcdef-0123456789"


def claims(**extra: Any) -> dict[str, Any]:
    now = utcnow()
    return {"sub": "user-1", "iat": now, "exp": now + timedelta(minutes=5), **extra}


def hs256(payload: dict[str, Any], key: str = SECRET) -> str:
    return pyjwt.encode(payload, key, algorithm="HS256")


def b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, default=lambda moment: int(moment.timestamp()))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


@pytest.fixture
async def started(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform.build(settings.model_copy(update={"vault_jwt_secret": SecretStr(SECRET)}))
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


async def tenant_count(platform: Platform, tenant_id: str) -> int:
    async with platform.database.session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(TenantRow).where(TenantRow.id == tenant_id)
            )
            or 0
        )


# -- HS256 ---------------------------------------------------------------------------------------


async def test_valid_token_names_its_vault_and_creates_its_tenant(started: Platform) -> None:
    vault = await started.vaults.verify_token(hs256(claims(vaultId="my-vault")))
    assert vault.vault_id == "my-vault"
    assert vault.subject == "user-1"
    assert vault.via == "vault_jwt"
    principal = vault.principal
    assert principal.tenant_id == tenant_id_for("my-vault") == "vault_my-vault"
    assert principal.user_id == "user-1"
    assert not principal.is_admin
    assert vault_id_of(principal) == "my-vault"
    assert await tenant_count(started, "vault_my-vault") == 1


async def test_vault_id_falls_back_to_sub(started: Platform) -> None:
    vault = await started.vaults.verify_token(hs256(claims(sub="vault-from-sub")))
    assert vault.vault_id == "vault-from-sub"
    # vaultId wins over sub when both are there
    vault = await started.vaults.verify_token(hs256(claims(sub="someone", vaultId="v2")))
    assert (vault.vault_id, vault.subject) == ("v2", "someone")


async def test_first_sight_from_many_requests_at_once_makes_one_tenant(
    started: Platform,
) -> None:
    token = hs256(claims(vaultId="crowded"))
    verifiers = [
        started.vaults,
        *(VaultVerifier(started.database, secret=SECRET) for _ in range(3)),
    ]
    results = await asyncio.gather(*(v.verify_token(token) for v in verifiers for _ in range(3)))
    assert {r.vault_id for r in results} == {"crowded"}
    assert await tenant_count(started, "vault_crowded") == 1


async def test_alg_none_is_refused(started: Platform) -> None:
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'vaultId': 'v', 'exp': 9e9})}."
    with pytest.raises(Unauthorized):
        await started.vaults.verify_token(unsigned)
    # PyJWT's own way of writing one
    none_token = pyjwt.encode(claims(vaultId="v"), None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(Unauthorized):
        await started.vaults.verify_token(none_token)


async def test_wrong_key_is_refused(started: Platform) -> None:
    with pytest.raises(Unauthorized, match="signature"):
        await started.vaults.verify_token(
            hs256(claims(vaultId="v"), key="another-secret-0123456789abcdef-0123")
        )


async def test_tampered_claims_are_refused(started: Platform) -> None:
    header, _, signature = hs256(claims(vaultId="mine")).split(".")
    forged_payload = b64({**claims(vaultId="someone-elses"), "iat": 0, "exp": 9_999_999_999})
    with pytest.raises(Unauthorized, match="signature"):
        await started.vaults.verify_token(f"{header}.{forged_payload}.{signature}")


async def test_expired_token_is_refused(started: Platform) -> None:
    past = utcnow() - timedelta(hours=1)
    with pytest.raises(TokenExpired, match="expired"):
        await started.vaults.verify_token(hs256(claims(vaultId="v", iat=past, exp=past)))


async def test_token_without_expiry_or_vault_or_good_vault_id_is_refused(
    started: Platform,
) -> None:
    with pytest.raises(Unauthorized, match="exp"):
        await started.vaults.verify_token(hs256({"vaultId": "v", "sub": "u"}))
    with pytest.raises(Unauthorized, match="names no vault"):
        await started.vaults.verify_token(hs256({"exp": utcnow() + timedelta(minutes=1)}))
    for bad in ("", "../etc", "a" * 59, "with space", 42):
        with pytest.raises(Unauthorized, match="vault id"):
            await started.vaults.verify_token(hs256(claims(vaultId=bad)))


async def test_garbage_is_refused(started: Platform) -> None:
    for token in ("not-a-jwt", "a.b.c", "", "x" * 10_000):
        with pytest.raises(Unauthorized):
            await started.vaults.verify_token(token)


async def test_audience_and_issuer_when_configured(settings: Settings) -> None:
    platform = Platform.build(
        settings.model_copy(
            update={
                "vault_jwt_secret": SecretStr(SECRET),
                "vault_jwt_audience": "metamorph",
                "vault_jwt_issuer": "https://id.example",
            }
        )
    )
    await platform.start()
    try:
        good = claims(vaultId="v", aud="metamorph", iss="https://id.example")
        assert (await platform.vaults.verify_token(hs256(good))).vault_id == "v"
        with pytest.raises(Unauthorized, match="audience"):
            await platform.vaults.verify_token(hs256({**good, "aud": "someone-else"}))
        with pytest.raises(Unauthorized, match="issuer"):
            await platform.vaults.verify_token(hs256({**good, "iss": "https://evil.example"}))
    finally:
        await platform.stop()


async def test_unconfigured_server_accepts_no_token(platform: Platform) -> None:
    await platform.start()
    try:
        with pytest.raises(Unauthorized, match="MENAGERIE_VAULT_JWT_SECRET"):
            await platform.vaults.verify_token(hs256(claims(vaultId="v")))
    finally:
        await platform.stop()


async def test_dev_vault_only_in_dev_mode(started: Platform, settings: Settings) -> None:
    with pytest.raises(Unauthorized, match="dev mode"):
        await started.vaults.dev_vault("my-vault")
    dev = Platform.build(settings.model_copy(update={"dev_mode": True}))
    await dev.start()
    try:
        vault = await dev.vaults.dev_vault("my-vault")
        assert (vault.vault_id, vault.via, vault.tenant_id) == (
            "my-vault",
            "dev_mode",
            "vault_my-vault",
        )
        with pytest.raises(Unauthorized, match="vault id"):
            await dev.vaults.dev_vault("no/slashes")
    finally:
        await dev.stop()


# -- JWKS ----------------------------------------------------------------------------------------


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(public_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = pyjwt.algorithms.RSAAlgorithm if alg == "RS256" else pyjwt.algorithms.ECAlgorithm
    data: dict[str, Any] = algorithm.to_jwk(public_key, as_dict=True)
    return {**data, "kid": kid, "use": "sig", "alg": alg}


@pytest.fixture
def rsa_private() -> rsa.RSAPrivateKey:
    return rsa_key()


@pytest.fixture
def ec_private() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
async def jwks_url(
    rsa_private: rsa.RSAPrivateKey, ec_private: ec.EllipticCurvePrivateKey
) -> AsyncIterator[str]:
    """The identity provider's key set, served for real on a loopback port."""
    app = FastAPI()
    keys = {
        "keys": [
            jwk(rsa_private.public_key(), "rsa-1", "RS256"),
            jwk(ec_private.public_key(), "ec-1", "ES256"),
        ]
    }

    @app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return keys

    async with serve(app) as base_url:
        yield f"{base_url}/.well-known/jwks.json"


@pytest.fixture
async def jwks_platform(settings: Settings, jwks_url: str) -> AsyncIterator[Platform]:
    platform = Platform.build(settings.model_copy(update={"vault_jwks_url": jwks_url}))
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


async def test_rs256_and_es256_tokens_from_the_jwks(
    jwks_platform: Platform,
    rsa_private: rsa.RSAPrivateKey,
    ec_private: ec.EllipticCurvePrivateKey,
) -> None:
    rs = pyjwt.encode(claims(vaultId="rsa-vault"), rsa_private, "RS256", {"kid": "rsa-1"})
    assert (await jwks_platform.vaults.verify_token(rs)).vault_id == "rsa-vault"
    es = pyjwt.encode(claims(vaultId="ec-vault"), ec_private, "ES256", {"kid": "ec-1"})
    assert (await jwks_platform.vaults.verify_token(es)).vault_id == "ec-vault"


async def test_jwks_refuses_other_keys_and_tampering(
    jwks_platform: Platform, rsa_private: rsa.RSAPrivateKey
) -> None:
    vaults = jwks_platform.vaults
    # another RSA key claiming to be the provider's
    with pytest.raises(Unauthorized, match="signature"):
        await vaults.verify_token(
            pyjwt.encode(claims(vaultId="v"), rsa_key(), "RS256", {"kid": "rsa-1"})
        )
    # a key id the provider never published
    with pytest.raises(Unauthorized, match="signing key"):
        await vaults.verify_token(
            pyjwt.encode(claims(vaultId="v"), rsa_private, "RS256", {"kid": "unknown"})
        )
    # a real token with its payload swapped
    header, _, signature = pyjwt.encode(
        claims(vaultId="mine"), rsa_private, "RS256", {"kid": "rsa-1"}
    ).split(".")
    with pytest.raises(Unauthorized, match="signature"):
        await vaults.verify_token(f"{header}.{b64(claims(vaultId='theirs'))}.{signature}")
    # expired, though well signed
    past = utcnow() - timedelta(hours=1)
    with pytest.raises(TokenExpired):
        await vaults.verify_token(
            pyjwt.encode(claims(vaultId="v", exp=past), rsa_private, "RS256", {"kid": "rsa-1"})
        )


async def test_hs256_signed_with_the_public_key_is_refused(
    jwks_platform: Platform, rsa_private: rsa.RSAPrivateKey
) -> None:
    """Algorithm confusion: the attacker knows the public key and signs HS256 with it."""
    public_pem = (
        rsa_private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    header = b64({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"})
    payload = b64(claims(vaultId="v", iat=0, exp=9_999_999_999))
    mac = hmac.new(public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(Unauthorized, match="algorithm is not accepted"):
        await jwks_platform.vaults.verify_token(forged)


async def test_unreachable_jwks_is_unavailable_not_a_bad_token(
    settings: Settings, rsa_private: rsa.RSAPrivateKey
) -> None:
    async with serve(FastAPI()) as base_url:
        pass  # the port is free again: nothing listens there
    platform = Platform.build(
        settings.model_copy(update={"vault_jwks_url": f"{base_url}/.well-known/jwks.json"})
    )
    await platform.start()
    try:
        token = pyjwt.encode(claims(vaultId="v"), rsa_private, "RS256", {"kid": "rsa-1"})
        with pytest.raises(Unavailable):
            await platform.vaults.verify_token(token)
    finally:
        await platform.stop()


def test_jwks_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        VaultVerifier(None, jwks_url="file:///etc/passwd")  # type: ignore[arg-type]
