"""The principals tests act as."""

from __future__ import annotations

from menagerie.core.identity.models import Principal
from menagerie.platform import Platform


def admin(platform: Platform) -> Principal:
    """The admin the first start created, as a principal (the platform must be started)."""
    result = platform.bootstrap_result
    assert result is not None
    return Principal(result.tenant_id, result.admin_user_id, frozenset({"admin"}))


async def other_tenant(platform: Platform, tenant_id: str = "acme") -> Principal:
    """The admin of a second tenant, created on the way."""
    issued = await platform.api_tokens.issue_for_tenant(tenant_id, f"{tenant_id} admin")
    return await platform.identity.authenticate_bearer(issued.token)
