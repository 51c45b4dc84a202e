"""Typed values of wallet sign-in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from menagerie.core.identity.models import TokenPair


@dataclass(frozen=True, slots=True)
class Challenge:
    """An issued EIP-4361 message: the wallet signs `message` before `expires_at`."""

    message: str
    nonce: str
    wallet: str
    nft_token_id: str
    chain_id: int
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class WalletSignIn:
    """A verified sign-in: the session's tokens and who it is for."""

    tokens: TokenPair
    wallet: str
    nft_token_id: str
    tenant_id: str
    user_id: str
    scope: str  # "orchestrator", or "agent" for an agent API's own sign-in


@dataclass(frozen=True, slots=True)
class WalletIdentity:
    """What a wallet session was opened for (read from the session behind a principal)."""

    session_id: str
    wallet: str
    nft_token_id: str
    scope: str
