"""The services a tenant can connect, with this server's client registration at each."""

from __future__ import annotations

from dataclasses import dataclass

from menagerie.settings import Settings


@dataclass(frozen=True, slots=True)
class OAuthProvider:
    name: str  # vercel
    title: str  # Vercel, for messages
    client_id: str | None
    client_secret: str | None
    authorize_url: str
    token_url: str
    redirect_uri: str | None  # our callback as registered with the provider
    scopes: tuple[str, ...]
    state_ttl_s: int = 600
    # where a browser may be sent after a step of the flow, beside this server's own origin
    redirect_origins: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.client_id)


def providers_from_settings(settings: Settings) -> dict[str, OAuthProvider]:
    vercel = OAuthProvider(
        name="vercel",
        title="Vercel",
        client_id=settings.vercel_client_id,
        client_secret=(
            settings.vercel_client_secret.get_secret_value()
            if settings.vercel_client_secret
            else None
        ),
        authorize_url=settings.vercel_authorize_url,
        token_url=settings.vercel_token_url,
        redirect_uri=settings.vercel_redirect_uri,
        scopes=tuple(settings.vercel_scopes),
        state_ttl_s=settings.oauth_state_ttl_s,
        redirect_origins=tuple(settings.oauth_redirect_origins),
    )
    return {vercel.name: vercel}
