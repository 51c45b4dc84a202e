"""The world the matrix runs in: one real server; the callers, each with a credential in each
dialect's own scheme; and user A's objects, made through core services when a row first names
them, with what must never reach anyone else (`private`: A's; `shared`: A's tenant's)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.errors import MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.core.identity.numbers import user_number
from menagerie.core.identity.records import SignIn
from menagerie.core.identity.vaults import VaultIdentity
from menagerie.core.memory.service import draft
from menagerie.core.ops.alerts import Thresholds
from menagerie.core.orchestration.models import StepRequest
from menagerie.core.sandboxes.models import SandboxRequest
from menagerie.platform import Platform
from menagerie.web.console.deps import CONSOLE_COOKIE, csrf_token
from tests.reliability.authz.model import Caller
from tests.reliability.authz.table_panthers import MINE, THEIRS
from tests.utils.http import bearer
from tests.utils.principals import admin

MARKER = "zqx-authz-owned-by-a-4417"  # in every object of A's: nobody else may ever see it
PASSWORD = "SecurePassword123"
VAULT_SECRET = "authz-matrix-vault-secret-0123456789"
VAULT, OTHER_VAULT = "authz-vault", "authz-other-vault"
MCP_SERVER = "authz-seed"
SEED_SERVER = Path(__file__).parents[2] / "utils" / "mcp_seed_server.py"
Headers = dict[str, str]


def write_catalogue(data_dir: Path) -> None:
    """An MCP server of the tenant's that runs nothing until started (a local test server)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    entry = {
        "name": MCP_SERVER,
        "description": "GitHub repositories, answered by a local test server",
        "category": "devops",
        "author": "Menagerie tests",
        "command": sys.executable,
        "args": ["-P", str(SEED_SERVER)],
        "configuration_schema": {"type": "object", "properties": {"api_token": {"type": "string"}}},
    }
    (data_dir / "mcp_servers.json").write_text(json.dumps({"version": 1, "servers": [entry]}))


def nft_owners(path: Path, wallets: dict[str, LocalAccount]) -> Path:
    path.write_text(json.dumps({nft: account.address for nft, account in wallets.items()}))
    return path


def vault_token(vault_id: str, subject: str) -> str:
    now = datetime.now(UTC)
    claims = {"vaultId": vault_id, "sub": subject, "iat": now, "exp": now + timedelta(hours=1)}
    return jwt.encode(claims, VAULT_SECRET, algorithm="HS256")


@dataclass
class World:
    """The server and its callers. Credentials, one per caller per dialect, in each scheme:
    PodPlay and /v1 take API tokens (`podplay_api_…`); MADACE and Crazy Gary the server's JWT
    from a password sign-in; the console its session cookie with the CSRF token; Panthers a
    wallet's SIWE sign-in (A holds NFT 77, B NFT 78); Metamorph vault JWTs (A and B are two
    subjects of one vault, the other tenant another vault). The other tenant's admin uses its
    API token (a cookie session opened with it on the console); the tenant admin the first
    admin's."""

    platform: Platform
    client: httpx.AsyncClient
    url: str
    wallets: dict[str, LocalAccount]
    alice: Principal = field(init=False)
    bob: Principal = field(init=False)
    other: Principal = field(init=False)
    private: set[str] = field(default_factory=set)
    shared: set[str] = field(default_factory=set)
    _objects: dict[str, str] = field(default_factory=dict)
    _credentials: dict[tuple[str, Caller], Headers] = field(default_factory=dict)
    _emails: dict[Caller, str] = field(default_factory=dict)
    sent_by: dict[Caller, set[str]] = field(default_factory=dict)  # secrets each caller sent
    _other_token: str = field(init=False, default="")

    async def setup(self) -> None:
        accounts = self.platform.accounts
        made: dict[Caller, SignIn] = {}
        for caller, name in ((Caller.USER_A, "alice"), (Caller.USER_B, "bob")):
            self._emails[caller] = f"{name}.authz@example.com"
            made[caller] = await accounts.register(self._emails[caller], PASSWORD, name)
        tenant = self.platform.settings.default_tenant
        self.alice = Principal(tenant, made[Caller.USER_A].account.id, frozenset())
        self.bob = Principal(tenant, made[Caller.USER_B].account.id, frozenset())
        issued = await self.platform.api_tokens.issue_for_tenant("acme", "acme admin")
        self._other_token = issued.token
        self.other = await self.platform.identity.authenticate_bearer(issued.token)
        self.private |= {MARKER, self.alice.user_id, self._emails[Caller.USER_A]}

    async def make_all(self) -> None:
        """Every object of A's, before any row runs: the lists called first must have A's to
        leave out."""
        for kind in MAKERS:
            await self.object(kind)

    # -- credentials ----------------------------------------------------------------------------

    async def credential(self, dialect: str, caller: Caller, *, fresh: bool = False) -> Headers:
        """The caller's credential in the dialect's scheme; `fresh`: a new sign-in, for a call
        that ends the session it came with."""
        if caller is Caller.ANONYMOUS:
            return {}
        key = (dialect, caller)
        if fresh:
            return await self._sign_in(dialect, caller)
        if key not in self._credentials:
            self._credentials[key] = await self._sign_in(dialect, caller)
        return self._credentials[key]

    async def _sign_in(self, dialect: str, caller: Caller) -> Headers:
        identity = self.platform.identity
        if dialect == "metamorph":
            vault, subject = {
                Caller.USER_A: (VAULT, "alice"),
                Caller.USER_B: (VAULT, "bob"),
                Caller.OTHER_ADMIN: (OTHER_VAULT, "carol"),
            }[caller]
            return bearer(vault_token(vault, subject))
        if caller is Caller.OTHER_ADMIN:
            principal = self.other
        elif caller is Caller.ADMIN:
            principal = admin(self.platform)
        else:
            principal = self.alice if caller is Caller.USER_A else self.bob
        if dialect == "panthers" and caller in (Caller.USER_A, Caller.USER_B):
            return bearer(await self._wallet_sign_in(MINE if caller is Caller.USER_A else THEIRS))
        if dialect == "console":
            if caller in (Caller.USER_A, Caller.USER_B):
                signed = await self.platform.accounts.login_cookie(self._emails[caller], PASSWORD)
                cookie = signed.cookie
            else:
                cookie, _ = await identity.open_browser_session(principal)
            return {"Cookie": f"{CONSOLE_COOKIE}={cookie}", "X-CSRF-Token": csrf_token(cookie)}
        if dialect in ("gary", "madace") and caller in (Caller.USER_A, Caller.USER_B):
            signed_in = await self.platform.accounts.login(self._emails[caller], PASSWORD)
            return bearer(signed_in.tokens.access_token)  # the server's own JWT
        if caller is Caller.OTHER_ADMIN:
            return bearer(self._other_token)
        return bearer((await identity.create_api_token(principal, "authz matrix")).token)

    async def _wallet_sign_in(self, nft: str) -> str:
        """Seed 002's sign-in: a challenge signed by the wallet that holds the NFT."""
        wallet = self.wallets[nft]
        issued = await self.client.post(
            "/panthers/auth/challenge", json={"wallet_address": wallet.address, "nft_token_id": nft}
        )
        assert issued.status_code == 200, issued.text
        message = issued.json()["message"]
        signature = Account.sign_message(encode_defunct(text=message), wallet.key).signature
        verified = await self.client.post(
            "/panthers/auth/verify",
            json={
                "wallet_address": wallet.address,
                "nft_token_id": nft,
                "signature": "0x" + bytes(signature).hex(),
                "message": message,
            },
        )
        assert verified.status_code == 200, verified.text
        token: str = verified.json()["access_token"]
        if nft == MINE:
            self.private.add((await self.platform.identity.authenticate_bearer(token)).user_id)
        return token

    # -- A's objects ----------------------------------------------------------------------------

    async def object(self, kind: str) -> str:
        """The id of A's object of this kind, made when first asked for."""
        if kind not in self._objects:
            made, visibility = await MAKERS[kind](self)
            self._objects[kind] = made
            {"private": self.private, "shared": self.shared}.get(visibility, set()).add(made)
        return self._objects[kind]

    def spent(self, kinds: tuple[str, ...]) -> None:
        """These objects may be gone: the next row that names one gets a new one."""
        for kind in kinds:
            self._objects.pop(kind, None)

    def vault_principal(self) -> Principal:
        return VaultIdentity(VAULT, "alice", "vault_jwt").principal


Maker = Callable[[World], Awaitable[tuple[str, str]]]  # (id, "private" | "shared" | "public")


async def _session(world: World) -> tuple[str, str]:
    done = await world.platform.agents.complete(
        world.alice, TurnRequest(agent="mama-bear", message=f"{MARKER} session")
    )
    session_id = done.message.session_id
    await world.platform.chat.update_session(world.alice, session_id, title=f"{MARKER} chat")
    return session_id, "private"


async def _memory(world: World) -> tuple[str, str]:
    saved = await world.platform.memory.save(
        world.alice, draft(category="authz", content=f"{MARKER} memory", key=MARKER)
    )
    return saved.id, "private"


async def _sandbox_of(world: World, principal: Principal, kind: str) -> tuple[str, str]:
    made = await world.platform.sandboxes.create(
        principal, SandboxRequest(name=f"{MARKER}-{kind}", kind=kind)
    )
    return made.id, "private"


async def _task(world: World) -> tuple[str, str]:
    task = await world.platform.agent_tasks.create(
        world.alice, agent="gary", title=MARKER, description=MARKER, model=None, priority="low"
    )
    return task.id, "private"


async def _orchestration(world: World) -> tuple[str, str]:
    step = StepRequest("report_generator", {"format": "json", "data": {"title": MARKER}})
    made, _ = await world.platform.orchestrations.submit(world.alice, [step])
    return made.id, "private"


async def _scout(world: World) -> tuple[str, str]:
    view = await world.platform.scout.create(world.alice, name="authz-project")
    world._objects["scout_name"] = view.project.name
    run_id = view.project.run_id
    if run_id is not None:  # the project is the object; building it is test_scout's part
        with contextlib.suppress(MenagerieError):  # it may have ended already
            await world.platform.runs.cancel(run_id, world.alice.tenant_id)
    return view.project.id, "private"


async def _scout_name(world: World) -> tuple[str, str]:
    await world.object("scout_id")
    return world._objects["scout_name"], "public"  # a name A chose: anyone may choose it too


async def _mcp(world: World) -> tuple[str, str]:
    await world.platform.mcp.install(world.alice, MCP_SERVER, {}, auto_start=False)
    return MCP_SERVER, "public"  # the catalogue's name; the installation is the tenant's


async def _token(world: World) -> tuple[str, str]:
    issued = await world.platform.identity.create_api_token(admin(world.platform), "authz")
    return issued.id, "shared"


async def _alert(world: World) -> tuple[str, str]:
    alerts = world.platform.alerts
    assert alerts is not None
    alerts.thresholds = Thresholds(cpu_percent=-1.0)  # every machine passes it
    await alerts.check()
    return alerts.active(admin(world.platform))[0].id, "shared"


async def _endpoint(world: World) -> tuple[str, str]:
    return world.platform.endpoints.names()[0], "public"


async def _spare_user(world: World) -> tuple[str, str]:
    signed = await world.platform.accounts.register(
        f"spare-{len(world._objects)}.authz@example.com", PASSWORD, "spare"
    )
    return str(user_number(signed.account.id)), "public"


async def _conversation(world: World) -> tuple[str, str]:
    """A's conversation with NFT 77's agent, through the agent API as A."""
    answer = await world.client.post(
        f"/panthers/agents/{MINE}/chat",
        json={"message": f"{MARKER} panther"},
        headers=await world.credential("panthers", Caller.USER_A),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["conversation_id"], "private"


async def _vault_ready(world: World) -> Principal:
    """A's vault principal, once its tenant row exists (made when a token of it is verified)."""
    await world.platform.vaults.verify_token(vault_token(VAULT, "alice"))
    return world.vault_principal()


async def _vault_session(world: World) -> tuple[str, str]:
    made = await world.platform.chat.create_session(
        await _vault_ready(world), "metamorph", title=f"{MARKER} vault"
    )
    return made.id, "private"


async def _vault_memory(world: World) -> tuple[str, str]:
    saved = await world.platform.memory.save(
        await _vault_ready(world), draft(category="semantic", content=f"{MARKER} vault memory")
    )
    return saved.id, "private"


async def _user_a(world: World) -> tuple[str, str]:
    return world.alice.user_id, "private"


async def _user_number(world: World) -> tuple[str, str]:
    return str(user_number(world.alice.user_id)), "public"  # digits: too short to look for


async def _workspace(world: World) -> tuple[str, str]:
    return await _sandbox_of(world, world.alice, "nixos")


async def _sandbox(world: World) -> tuple[str, str]:
    return await _sandbox_of(world, world.alice, "sandbox")


async def _vault_sandbox(world: World) -> tuple[str, str]:
    return await _sandbox_of(world, await _vault_ready(world), "sandbox")


MAKERS: dict[str, Maker] = {
    "user_a": _user_a,
    "user_number": _user_number,
    "spare_user_number": _spare_user,
    "session": _session,
    "memory": _memory,
    "workspace": _workspace,
    "sandbox": _sandbox,
    "task": _task,
    "orchestration": _orchestration,
    "scout_id": _scout,
    "scout_name": _scout_name,
    "mcp": _mcp,
    "token": _token,
    "alert": _alert,
    "endpoint": _endpoint,
    "conversation": _conversation,
    "vault_session": _vault_session,
    "vault_memory": _vault_memory,
    "vault_sandbox": _vault_sandbox,
}
