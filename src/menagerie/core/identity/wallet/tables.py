"""Sign-in challenges (single-use SIWE nonces) and the user each wallet signs in as."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from menagerie.core.clock import utcnow
from menagerie.storage.base import Base, UTCDateTime


class WalletChallengeRow(Base):
    """One issued EIP-4361 message. Only hashes are kept: the nonce (128 random bits) finds the
    row, the message's SHA-256 proves a signed text is the very one issued. Consuming sets
    `consumed_at` with `UPDATE … WHERE consumed_at IS NULL`: of two requests with one nonce,
    exactly one updates a row."""

    __tablename__ = "wallet_challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    message_hash: Mapped[str] = mapped_column(String(64))
    wallet: Mapped[str] = mapped_column(String(42))  # EIP-55 checksummed
    nft_token_id: Mapped[str] = mapped_column(String(78))  # a uint256 in decimal
    domain: Mapped[str] = mapped_column(String(255))
    chain_id: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # for pruning
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WalletAccountRow(Base):
    """The user a wallet address signs in as, created on its first sign-in."""

    __tablename__ = "wallet_accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "address"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # (tenant_id, address) is unique: that index also serves lookups by tenant
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    address: Mapped[str] = mapped_column(String(42))  # EIP-55 checksummed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
