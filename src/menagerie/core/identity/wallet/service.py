"""Wallet sign-in: a challenge to sign, its verification, refreshes that re-check ownership.

A wallet proves who it is by signing the EIP-4361 message the server issued (recovered with
eth-account, so externally owned accounts only), and earns a session by owning the NFT it
names, read from the ownership source. The server itself keeps the nonce single-use and
short-lived, checks domain and chain, and consumes the nonce with one conditional UPDATE, so
that a replayed or raced message fails. Each refresh asks the source again: a wallet that sold
its NFT loses the session at its next refresh.

Every wallet signs in as one user of the default tenant, created on its first sign-in: what
Panthers serves belongs to an NFT, which moves between wallets, so ownership (checked at every
sign-in and refresh) is the authority, not a tenant per wallet.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from menagerie.core.clock import utcnow
from menagerie.core.errors import Forbidden, Invalid, TokenExpired, Unauthorized, Unavailable
from menagerie.core.identity.models import Principal, SessionInfo, TokenPair
from menagerie.core.identity.sessions import SessionService
from menagerie.core.identity.tables import TenantRow, UserRow
from menagerie.core.identity.wallet import siwe
from menagerie.core.identity.wallet.models import Challenge, WalletIdentity, WalletSignIn
from menagerie.core.identity.wallet.ownership import OwnershipSource, from_settings
from menagerie.core.identity.wallet.tables import WalletAccountRow, WalletChallengeRow
from menagerie.core.ids import new_id
from menagerie.settings import Settings
from menagerie.storage.database import Database

log = logging.getLogger(__name__)

SESSION_KIND = "wallet"
ORCHESTRATOR = "orchestrator"
AGENT = "agent"
STATEMENT = "Sign in as the owner of NFT #{nft_token_id}."
# challenges stay this long past expiry (to answer "expired" rather than "unknown"), then go
KEEP_EXPIRED = timedelta(days=1)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def default_domain(settings: Settings) -> str:
    """The RFC 3986 authority wallets show the user: MENAGERIE_SIWE_DOMAIN, else host:port."""
    if settings.siwe_domain:
        return settings.siwe_domain
    wildcard = settings.host in ("", "0.0.0.0", "::")  # noqa: S104 (a bind address, not a name)
    host = "localhost" if wildcard else settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{settings.port}"


class WalletService:
    def __init__(
        self,
        database: Database,
        sessions: SessionService,
        ownership: OwnershipSource,
        *,
        domain: str,
        uri: str,
        chain_id: int = 1,
        nonce_ttl_s: int = 300,
        tenant_id: str = "default",
        statement: str = STATEMENT,
    ) -> None:
        self._db = database
        self._sessions = sessions
        self.ownership = ownership
        self.domain = domain
        self.uri = uri
        self.chain_id = chain_id
        self.nonce_ttl = timedelta(seconds=nonce_ttl_s)
        self.tenant_id = tenant_id
        self.statement = statement

    @classmethod
    def from_settings(
        cls, settings: Settings, database: Database, sessions: SessionService
    ) -> WalletService:
        domain = default_domain(settings)
        ownership = from_settings(
            rpc_url=settings.nft_rpc_url,
            contract=settings.nft_contract,
            owners_file=settings.nft_owners_file,
            chain_id=settings.siwe_chain_id,
        )
        return cls(
            database,
            sessions,
            ownership,
            domain=domain,
            uri=settings.siwe_uri or f"http://{domain}",
            chain_id=settings.siwe_chain_id,
            nonce_ttl_s=settings.siwe_nonce_ttl_s,
            tenant_id=settings.default_tenant,
        )

    # -- challenge ----------------------------------------------------------------------------

    async def challenge(self, wallet_address: str, nft_token_id: str | int) -> Challenge:
        """A fresh EIP-4361 message for this wallet and NFT, with a single-use nonce."""
        # any spelling: the signature proves the wallet, so a typo cannot sign in as another
        wallet = siwe.checksum_address(wallet_address, strict=False)
        nft = siwe.token_id(nft_token_id)
        nonce = secrets.token_hex(16)  # 128 bits; EIP-4361 wants letters and digits only
        now = utcnow()
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as the message shows it
        expires = now + self.nonce_ttl
        message = siwe.SiweMessage(
            domain=self.domain,
            address=wallet,
            statement=self.statement.format(nft_token_id=nft),
            uri=self.uri,
            chain_id=self.chain_id,
            nonce=nonce,
            issued_at=siwe.timestamp(now),
            expiration_time=siwe.timestamp(expires),
        ).text()
        async with self._db.session() as session:
            await session.execute(
                delete(WalletChallengeRow).where(WalletChallengeRow.expires_at < now - KEEP_EXPIRED)
            )
            session.add(
                WalletChallengeRow(
                    id=new_id("wch"),
                    nonce_hash=_sha256(nonce),
                    message_hash=_sha256(message),
                    wallet=wallet,
                    nft_token_id=nft,
                    domain=self.domain,
                    chain_id=self.chain_id,
                    issued_at=now,
                    expires_at=expires,
                )
            )
        return Challenge(message, nonce, wallet, nft, self.chain_id, now, expires)

    # -- verify -------------------------------------------------------------------------------

    async def verify(
        self,
        *,
        wallet_address: str,
        signature: str,
        message: str,
        nft_token_id: str | int | None = None,
        scope: str = ORCHESTRATOR,
    ) -> WalletSignIn:
        """Check a signed challenge and the wallet's NFT; open a session.

        `nft_token_id` is the NFT the caller asks for (the request's, or the agent's in the
        path); None accepts the one the challenge was issued for.
        """
        # any spelling: the signature proves the wallet, so a typo cannot sign in as another
        wallet = siwe.checksum_address(wallet_address, strict=False)
        wanted = None if nft_token_id is None else siwe.token_id(nft_token_id)
        if not isinstance(message, str) or not message:
            raise Invalid("message is required", field="message", received=message, missing=True)
        try:
            parsed = siwe.parse(message)
        except siwe.SiweFormatError as exc:
            # text that is no EIP-4361 message was never issued by this server: refused like an
            # unknown nonce (a credential that does not check out), not as a malformed field
            raise Unauthorized(
                f"not a Sign-In with Ethereum message: {exc}",
                reason="NOT_A_SIWE_MESSAGE",
                details={
                    "field": "message",
                    "expected": "the message POST /auth/challenge returned, unchanged",
                },
            ) from exc
        self._check_claims(parsed, wallet)
        row = await self._issued(parsed.nonce)
        if not hmac.compare_digest(row.message_hash, _sha256(message)):
            raise Unauthorized(
                "the message differs from the one issued for this nonce", reason="MESSAGE_ALTERED"
            )
        if wanted is not None and wanted != row.nft_token_id:
            raise Forbidden(
                f"this challenge was issued for NFT #{row.nft_token_id}, not #{wanted}",
                reason="NFT_MISMATCH",
                details={"nft_token_id": wanted, "challenge_nft_token_id": row.nft_token_id},
            )
        now = utcnow()
        if row.consumed_at is not None:
            raise Unauthorized("this challenge has already been used", reason="NONCE_USED")
        if row.expires_at <= now:
            raise TokenExpired(
                "this challenge has expired: request a new one", reason="NONCE_EXPIRED"
            )
        self._check_signature(message, signature, wallet)
        await self._check_owner(wallet, row.nft_token_id)
        async with self._db.session() as session:
            # the single use: of two requests with one nonce, exactly one updates the row
            consumed = await session.execute(
                update(WalletChallengeRow)
                .where(
                    WalletChallengeRow.id == row.id,
                    WalletChallengeRow.consumed_at.is_(None),
                    WalletChallengeRow.expires_at > now,
                )
                .values(consumed_at=now)
            )
            if consumed.rowcount != 1:
                raise Unauthorized("this challenge has already been used", reason="NONCE_USED")
        principal = await self._user_for(wallet)
        attributes: dict[str, Any] = {
            "wallet": wallet,
            "nft_token_id": row.nft_token_id,
            "scope": scope,
        }
        tokens = await self._sessions.open(principal, SESSION_KIND, attributes)
        log.info("wallet %s signed in for NFT #%s (%s)", wallet, row.nft_token_id, scope)
        return WalletSignIn(
            tokens, wallet, row.nft_token_id, principal.tenant_id, principal.user_id, scope
        )

    def _check_claims(self, parsed: siwe.SiweMessage, wallet: str) -> None:
        """What the message says must be what this server would have said."""
        if parsed.domain != self.domain:
            raise Unauthorized(
                f"the message is for {parsed.domain!r}, not for this server ({self.domain!r})",
                reason="DOMAIN_MISMATCH",
            )
        if parsed.chain_id != self.chain_id:
            raise Unauthorized(
                f"the message is for chain {parsed.chain_id}; sign-in is on chain {self.chain_id}",
                reason="CHAIN_MISMATCH",
            )
        if parsed.uri != self.uri:
            raise Unauthorized("the message names another URI", reason="URI_MISMATCH")
        if siwe.checksum_address(parsed.address, field="message") != wallet:
            raise Unauthorized(
                "the message is for another address than wallet_address", reason="ADDRESS_MISMATCH"
            )

    async def _issued(self, nonce: str) -> WalletChallengeRow:
        async with self._db.session() as session:
            row = await session.scalar(
                select(WalletChallengeRow).where(WalletChallengeRow.nonce_hash == _sha256(nonce))
            )
        if row is None:
            raise Unauthorized(
                "no challenge was issued with this nonce: request one with POST /auth/challenge",
                reason="UNKNOWN_NONCE",
            )
        return row

    @staticmethod
    def _check_signature(message: str, signature: str, wallet: str) -> None:
        if not isinstance(signature, str) or not signature:
            raise Invalid("signature is required", field="signature", missing=True)
        try:
            signer = Account.recover_message(encode_defunct(text=message), signature=signature)
        except Exception as exc:  # eth-account raises several kinds for a malformed signature
            raise Unauthorized(
                "the signature is malformed: expected 65 bytes in hex (r, s, v)",
                reason="INVALID_SIGNATURE",
            ) from exc
        if not hmac.compare_digest(signer.encode(), wallet.encode()):
            raise Unauthorized(
                "the message was not signed by wallet_address", reason="INVALID_SIGNATURE"
            )

    async def _check_owner(self, wallet: str, nft_token_id: str) -> None:
        owner = await self.ownership.owner_of(nft_token_id)
        if owner is None or not hmac.compare_digest(owner.encode(), wallet.encode()):
            raise Forbidden(
                f"the wallet does not own NFT #{nft_token_id}",
                reason="NFT_NOT_OWNED",
                details={"nft_token_id": nft_token_id},
            )

    async def _user_for(self, wallet: str) -> Principal:
        """The user this wallet signs in as, created on its first sign-in."""
        for attempt in range(2):
            try:
                return await self._find_or_create_user(wallet)
            except IntegrityError:
                if attempt:  # a concurrent first sign-in created it: now it is found
                    raise
        raise AssertionError("unreachable")

    async def _find_or_create_user(self, wallet: str) -> Principal:
        now = utcnow()
        async with self._db.session() as session:
            account = await session.scalar(
                select(WalletAccountRow).where(
                    WalletAccountRow.tenant_id == self.tenant_id, WalletAccountRow.address == wallet
                )
            )
            if account is None:
                if await session.get(TenantRow, self.tenant_id) is None:
                    session.add(TenantRow(id=self.tenant_id, name="Default tenant"))
                    await session.flush()
                user = UserRow(
                    id=new_id("usr"), tenant_id=self.tenant_id, email=None, name=wallet, roles=[]
                )
                session.add(user)
                await session.flush()
                session.add(
                    WalletAccountRow(
                        id=new_id("wal"),
                        tenant_id=self.tenant_id,
                        user_id=user.id,
                        address=wallet,
                        created_at=now,
                    )
                )
                await session.flush()
            else:
                found = await session.get(UserRow, account.user_id)
                if found is None or not found.is_active:
                    raise Unauthorized("the account of this wallet is disabled")
                user = found
            await session.execute(
                update(WalletAccountRow)
                .where(
                    WalletAccountRow.tenant_id == self.tenant_id, WalletAccountRow.address == wallet
                )
                .values(last_sign_in_at=now)
            )
            await session.execute(
                update(UserRow).where(UserRow.id == user.id).values(last_login=now)
            )
            return Principal(user.tenant_id, user.id, frozenset(user.roles or ()), "jwt")

    # -- refresh, logout ----------------------------------------------------------------------

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Spend a wallet session's refresh token; the wallet must still own its NFT."""
        return await self._sessions.refresh(refresh_token, check=self._still_owner)

    async def _still_owner(self, info: SessionInfo) -> None:
        if info.kind != SESSION_KIND:
            raise Unauthorized("not a wallet session", reason="NOT_A_WALLET_SESSION")
        wallet = str(info.attributes.get("wallet", ""))
        nft = str(info.attributes.get("nft_token_id", ""))
        try:
            await self._check_owner(wallet, nft)
        except Forbidden:
            # the NFT moved: this session, and the access tokens it issued, end now
            await self._sessions.revoke(info.id, "nft_ownership_lost")
            raise
        # an Unavailable source refuses this refresh but keeps the session for a retry

    async def logout(self, principal: Principal) -> None:
        if principal.session_id is None:
            # a valid credential (an API key) that has no session to end: refused, not invalid
            raise Forbidden(
                "this credential is not a session: only a signed-in session can log out",
                reason="NOT_A_SESSION",
                details={"expected": "an access token from POST /auth/verify"},
            )
        await self._sessions.revoke(principal.session_id, "logout")

    async def identity(self, principal: Principal) -> WalletIdentity | None:
        """The wallet and NFT behind a principal's session; None for other credentials."""
        if principal.session_id is None:
            return None
        info = await self._sessions.active(principal.session_id)
        if info.kind != SESSION_KIND:
            return None
        return WalletIdentity(
            info.id,
            str(info.attributes.get("wallet", "")),
            str(info.attributes.get("nft_token_id", "")),
            str(info.attributes.get("scope", ORCHESTRATOR)),
        )

    async def nft_exists(self, nft_token_id: str | int) -> bool | None:
        """Whether the NFT exists, by its owner in the ownership source; None when the source
        cannot answer now (unconfigured, unreachable): not known, never guessed."""
        nft = siwe.token_id(nft_token_id)
        try:
            return await self.ownership.owner_of(nft) is not None
        except Unavailable:
            return None

    async def authorize_agent(self, principal: Principal, nft_token_id: str) -> None:
        """Only the session signed in for this NFT (or an admin of the wallets' tenant) may
        use its agent; another tenant's admin is no one here."""
        nft = siwe.token_id(nft_token_id)
        if principal.is_admin and principal.tenant_id == self.tenant_id:
            return
        identity = await self.identity(principal)
        if identity is None or identity.nft_token_id != nft:
            raise Forbidden(
                f"this credential is not for agent {nft_token_id}; sign in with the wallet "
                "that holds its NFT",
                reason="NFT_MISMATCH",
                details={"nft_token_id": nft},
            )
