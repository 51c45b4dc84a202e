"""OAuth connections: a tenant links an account at another service (Vercel) through the
authorization-code flow with PKCE, and Menagerie keeps its tokens, encrypted, to act for it."""

from menagerie.core.identity.oauth.models import (
    AuthorizationRequest,
    Connection,
    ConnectionEvent,
    ConnectionStatus,
)
from menagerie.core.identity.oauth.providers import OAuthProvider, providers_from_settings
from menagerie.core.identity.oauth.service import OAuthService

__all__ = [
    "AuthorizationRequest",
    "Connection",
    "ConnectionEvent",
    "ConnectionStatus",
    "OAuthProvider",
    "OAuthService",
    "providers_from_settings",
]
