"""Metamorph's caller: a vault, from a Bearer JWT or, in dev mode, the `X-Vault-Id` header.

Every vault-scoped route takes `CurrentVault`:

    @router.get("/api/sessions")
    async def list_sessions(vault: CurrentVault, platform: PlatformDep) -> ...:
        ...  # vault.vault_id for the wire, vault.principal for core services

No credential at all is `MISSING_TOKEN` (401); a credential that fails verification is
`INVALID_TOKEN` (401), in dev mode too: a wrong token is never silently ignored.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from menagerie.core.errors import CredentialsMissing
from menagerie.core.identity.vaults import VaultIdentity
from menagerie.http.deps import (
    AdminDep,
    OptionalPrincipalDep,
    PlatformDep,
    PrincipalDep,
    bearer_token,
    get_platform,
)

__all__ = [
    "AdminDep",
    "CurrentVault",
    "OptionalPrincipalDep",
    "OptionalVault",
    "PlatformDep",
    "PrincipalDep",
    "optional_vault",
    "require_vault",
]

VAULT_HEADER = "X-Vault-Id"


async def optional_vault(request: Request) -> VaultIdentity | None:
    """The vault the request acts for, or None when it presents no credential."""
    cached: VaultIdentity | None = getattr(request.state, "vault", None)
    if cached is not None:
        return cached
    platform = get_platform(request)
    token = bearer_token(request)  # a non-Bearer Authorization header is INVALID_TOKEN
    named = request.headers.get(VAULT_HEADER, "").strip()
    if token is not None:
        vault = await platform.vaults.verify_token(token)
    elif named and platform.vaults.dev_mode:
        vault = await platform.vaults.dev_vault(named)
    else:
        return None
    request.state.vault = vault
    # the shared principal dependency sees the same caller on Metamorph routes
    request.state.principal = vault.principal
    return vault


async def require_vault(request: Request) -> VaultIdentity:
    vault = await optional_vault(request)
    if vault is None:
        platform = get_platform(request)
        hint = ""
        if request.headers.get(VAULT_HEADER) and not platform.vaults.dev_mode:
            hint = f"; {VAULT_HEADER} is accepted only in dev mode"
        elif platform.vaults.dev_mode:
            hint = f"; send 'Authorization: Bearer <token>' or {VAULT_HEADER}"
        raise CredentialsMissing("No authorization header" + hint)
    return vault


CurrentVault = Annotated[VaultIdentity, Depends(require_vault)]
OptionalVault = Annotated[VaultIdentity | None, Depends(optional_vault)]
