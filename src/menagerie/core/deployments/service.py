"""Deploying an NFT's agent: the rules, the rows, and the processes of provider `local`.

Who may act on a deployment is decided by the NFT, every call anew: the caller's session is
for that NFT and its wallet still holds it in the ownership source (an admin of the tenant
acts for anyone). A deployment of another tenant is not found.

`local` runs the agent as a process of its own on a loopback port (`process.py`); the rows
hold what each deployment should be, so that a server that starts again resumes the ones
that were deploying or running. `secret_vm` and `akash` need a backend this server does not
have: they are refused as unavailable, never recorded as if deployed.

Every step is published on the bus (`deployment.status`) for the sockets that watch an NFT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from menagerie.core.clock import utcnow
from menagerie.core.deployments.launch import AgentLauncher
from menagerie.core.deployments.models import (
    ACTIVE,
    DEFAULT_RESOURCES,
    Deployed,
    Deployment,
    DeploymentPage,
    DeploymentQuery,
    Probe,
    Provider,
)
from menagerie.core.deployments.process import (
    AgentProcess,
    ProcessEvent,
    end_leftover,
    listen_on_loopback,
    probe_url,
)
from menagerie.core.deployments.store import DeploymentStore
from menagerie.core.deployments.tables import DeploymentRow
from menagerie.core.errors import Conflict, Forbidden, LimitReached, NotFound, Unavailable
from menagerie.core.events import EventBus
from menagerie.core.identity.models import Principal
from menagerie.core.identity.wallet import siwe
from menagerie.core.identity.wallet.service import WalletService
from menagerie.core.ids import new_id
from menagerie.storage.database import Database

log = logging.getLogger(__name__)

# where each step is published: tenant_id, nft_token_id, deployment_id, status, progress, message
TOPIC = "deployment.status"
ESTIMATE_S = 10  # a first start's estimate, before one was measured here
# what a remote provider would need; this server has neither backend, so both are refused
REMOTE_PROVIDERS: dict[str, tuple[str, str]] = {
    "secret_vm": (
        "Secret Network VM",
        "a SecretVM backend (its API endpoint and credentials) is not configured on this server",
    ),
    "akash": (
        "Akash Network",
        "an Akash backend (a funded wallet and a provider to lease from) is not configured on "
        "this server",
    ),
}


def _none_active(nft: str, latest: Deployment | None) -> NotFound:
    said = f"NFT #{nft} has no deployment"
    if latest is not None:
        said += f" now ({latest.id} stopped; GET /deployments?status=stopped lists it)"
    return NotFound(said, reason="DEPLOYMENT_NOT_FOUND", details={"nft_token_id": nft})


class DeploymentService:
    def __init__(
        self,
        database: Database,
        wallets: WalletService,
        events: EventBus,
        launcher: AgentLauncher,
        *,
        max_local: int = 16,
        start_timeout_s: float = 60.0,
        backoff_s: float = 0.25,
    ) -> None:
        self.store = DeploymentStore(database)
        self._wallets = wallets
        self._events = events
        self._launcher = launcher
        self.max_local = max_local
        self.start_timeout_s = start_timeout_s
        self.backoff_s = backoff_s
        self._processes: dict[str, AgentProcess] = {}  # by deployment id
        self._locks: dict[str, asyncio.Lock] = {}  # by tenant and NFT: one deploy at a time
        self._closing = False

    # -- who may act ---------------------------------------------------------------------------

    async def authorize(self, principal: Principal, nft_token_id: str) -> str:
        """The NFT, once the caller may act on its deployment (checked now, every call)."""
        nft = siwe.token_id(nft_token_id)
        await self._wallets.authorize_agent(principal, nft)
        if principal.is_admin:
            return nft
        identity = await self._wallets.identity(principal)
        owner = await self._wallets.ownership.owner_of(nft)  # Unavailable: not known now
        if identity is None or owner is None or owner.lower() != identity.wallet.lower():
            raise Forbidden(
                f"the wallet of this session no longer holds NFT #{nft}",
                reason="NFT_NOT_OWNED",
                details={"nft_token_id": nft},
            )
        return nft

    # -- deploy ---------------------------------------------------------------------------------

    async def deploy(
        self,
        principal: Principal,
        nft_token_id: str,
        provider: Provider,
        resources: dict[str, Any],
        *,
        wait_s: float = 0.0,
    ) -> Deployed:
        """Deploy the NFT's agent; waits up to `wait_s` for it to run before answering."""
        nft = await self.authorize(principal, nft_token_id)
        if provider in REMOTE_PROVIDERS:
            name, missing = REMOTE_PROVIDERS[provider]
            raise Unavailable(
                f"provider {provider!r} ({name}) is not available: {missing}. "
                "Deploy with provider 'local' to run the agent on this server.",
                service=f"deployments.{provider}",
                reason="PROVIDER_NOT_CONFIGURED",
                details={"provider": provider, "missing": missing, "available": ["local"]},
            )
        if await self._wallets.nft_exists(nft) is False:
            raise NotFound(f"NFT #{nft} does not exist", reason="NFT_NOT_FOUND")
        async with self._lock(principal.tenant_id, nft):
            current = await self.store.latest(principal.tenant_id, nft)
            if current is not None and current.active:
                raise Conflict(
                    f"NFT #{nft} is already deployed ({current.id}, {current.status}): "
                    "stop it with DELETE before deploying again",
                    reason="ALREADY_EXISTS",
                    details={"deployment_id": current.id, "status": current.status},
                )
            if await self.store.count(provider="local", statuses=ACTIVE) >= self.max_local:
                raise LimitReached(
                    f"this server runs at most {self.max_local} local deployments",
                    reason="DEPLOYMENT_LIMIT",
                    details={"limit": self.max_local},
                )
            wanted = {**DEFAULT_RESOURCES, **resources}
            deployment = await self._record(principal, nft, provider, wanted)
            process = await self._supervise(deployment, port=None)
        began = asyncio.get_running_loop().time()
        if wait_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.healthy.wait(), wait_s)
        deployment = await self.store.get(deployment.id)
        waited = asyncio.get_running_loop().time() - began
        return Deployed(deployment, self._estimate(deployment, waited))

    def _estimate(self, deployment: Deployment, waited_s: float) -> int:
        if deployment.status != "deploying":
            return 0
        measured = [p.start_duration_s for p in self._processes.values() if p.start_duration_s]
        expected = max(measured) if measured else ESTIMATE_S
        return max(1, round(expected - waited_s))

    async def _record(
        self, principal: Principal, nft: str, provider: Provider, resources: dict[str, Any]
    ) -> Deployment:
        now = utcnow()
        row = DeploymentRow(
            id=new_id("dep"),
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            nft_token_id=nft,
            provider=provider,
            status="deploying",
            resources=dict(resources),
            port=None,
            endpoint_url=None,
            pid=None,
            restarts=0,
            message="deployment recorded",
            created_at=now,
            updated_at=now,
            stopped_at=None,
        )
        deployment = await self.store.add(row)
        await self._publish(deployment, 10, "deployment recorded: reserving a port on loopback")
        return deployment

    async def _supervise(self, deployment: Deployment, *, port: int | None) -> AgentProcess:
        """Bind the deployment's port and start its supervised process."""
        sock = await self._bind(port)
        launch = self._launcher.launch(deployment.nft_token_id)
        deployment_id = deployment.id

        async def on_event(event: ProcessEvent) -> None:
            await self._process_event(deployment_id, event)

        process = AgentProcess(
            f"{deployment.nft_token_id}/{deployment_id}",
            launch,
            sock,
            on_event=on_event,
            start_timeout_s=self.start_timeout_s,
            backoff_s=self.backoff_s,
        )
        self._processes[deployment_id] = process
        message = f"port 127.0.0.1:{process.port} reserved: starting the agent process"
        deployment = await self.store.update(
            deployment_id, port=process.port, endpoint_url=process.url, message=message
        )
        await self._publish(deployment, 25, message)
        process.start()
        return process

    @staticmethod
    async def _bind(port: int | None) -> Any:
        if port is None:
            return listen_on_loopback()
        # the port of a process a stopped server left: free within a moment of its end
        for _ in range(30):
            with contextlib.suppress(OSError):
                return listen_on_loopback(port)
            await asyncio.sleep(0.1)
        return listen_on_loopback()

    async def _process_event(self, deployment_id: str, event: ProcessEvent) -> None:
        if self._closing:
            return  # the server is stopping: the rows keep what should run next time
        if event.state == "starting":
            deployment = await self.store.update(
                deployment_id,
                status="deploying",
                pid=event.pid,
                restarts=event.restarts,
                message=event.detail,
            )
            await self._publish(deployment, 50, f"{event.detail}: waiting for its /health")
        elif event.state == "healthy":
            deployment = await self.store.update(
                deployment_id, status="running", pid=event.pid, message=event.detail
            )
            await self._publish(
                deployment,
                100,
                f"agent of NFT #{deployment.nft_token_id} running at {deployment.endpoint_url}",
            )
        else:
            message = f"{event.detail}: starting it again in {event.retry_in_s or 0:g}s"
            deployment = await self.store.update(
                deployment_id, status="deploying", pid=None, message=message
            )
            await self._publish(deployment, 25, message)

    # -- read -----------------------------------------------------------------------------------

    async def get(self, principal: Principal, nft_token_id: str) -> Deployment:
        """The NFT's deployment now (deploying or running); stopped ones are only listed."""
        nft = await self.authorize(principal, nft_token_id)
        found = await self.store.latest(principal.tenant_id, nft)
        if found is None or not found.active:
            raise _none_active(nft, found)
        return found

    async def probe(self, deployment: Deployment) -> Probe:
        """Its process as it answers now."""
        if not deployment.active:
            return Probe("stopped", utcnow(), None, None, deployment.restarts, None, "stopped")
        process = self._processes.get(deployment.id)
        if process is not None:
            return await process.probe()
        if deployment.endpoint_url is None:
            return Probe(
                "unreachable", utcnow(), None, None, deployment.restarts, None, "no address yet"
            )
        # supervised by another server on this machine: asked at its address
        return await probe_url(deployment.endpoint_url, restarts=deployment.restarts)

    async def list(self, principal: Principal, query: DeploymentQuery) -> DeploymentPage:
        """The caller's deployments (an admin's: the tenant's), of NFTs the caller still holds."""
        deployments = await self.store.listed(principal, query)
        if not principal.is_admin:
            deployments = await self._still_held(principal, deployments)
        page = deployments[query.offset : query.offset + query.limit]
        return DeploymentPage(page, len(deployments), query.limit, query.offset)

    async def _still_held(
        self, principal: Principal, deployments: Sequence[Deployment]
    ) -> list[Deployment]:
        identity = await self._wallets.identity(principal)
        if identity is None:
            return []
        owners: dict[str, str | None] = {}
        for nft in {d.nft_token_id for d in deployments}:
            owners[nft] = await self._wallets.ownership.owner_of(nft)
        wallet = identity.wallet.lower()
        return [d for d in deployments if (owners[d.nft_token_id] or "").lower() == wallet]

    @property
    def supervised(self) -> int:
        """The agent processes this server supervises now (metrics read it at scrape time)."""
        return len(self._processes)

    async def count_active(self) -> int:
        """Deployments running now, on every server that shares this database."""
        return await self.store.count(statuses=("running",))

    # -- stop -----------------------------------------------------------------------------------

    async def stop(self, principal: Principal, nft_token_id: str) -> Deployment:
        """Stop the NFT's deployment: its process ends before this returns."""
        nft = await self.authorize(principal, nft_token_id)
        async with self._lock(principal.tenant_id, nft):
            found = await self.store.latest(principal.tenant_id, nft)
            if found is None or not found.active:
                raise _none_active(nft, found)
            process = self._processes.pop(found.id, None)
            if process is not None:
                await process.stop()
            deployment = await self.store.update(
                found.id,
                status="stopped",
                pid=None,
                stopped_at=utcnow(),
                message="stopped: its process has ended",
            )
        await self._publish(deployment, 100, "deployment stopped: its process has ended")
        return deployment

    # -- the server's start and stop ------------------------------------------------------------

    async def start(self) -> None:
        """Resume the local deployments that were deploying or running when a server stopped."""
        self._closing = False
        for deployment in await self.store.active_local():
            if deployment.pid is not None:
                end_leftover(
                    deployment.pid,
                    self._launcher.module,
                    self._launcher.tail(deployment.nft_token_id),
                )
            try:
                await self._publish(deployment, 10, "resuming after a restart of the server")
                await self._supervise(deployment, port=deployment.port)
            except Exception:
                log.exception("deployment %s could not be resumed", deployment.id)

    async def close(self) -> None:
        """Stop every process this server supervises; the rows keep them to resume."""
        self._closing = True
        processes, self._processes = list(self._processes.values()), {}
        await asyncio.gather(*(p.stop() for p in processes), return_exceptions=True)

    # -- rows -----------------------------------------------------------------------------------

    def _lock(self, tenant_id: str, nft: str) -> asyncio.Lock:
        return self._locks.setdefault(f"{tenant_id}/{nft}", asyncio.Lock())

    async def _publish(self, deployment: Deployment, progress: int, message: str) -> None:
        await self._events.publish(
            TOPIC,
            {
                "tenant_id": deployment.tenant_id,
                "nft_token_id": deployment.nft_token_id,
                "deployment_id": deployment.id,
                "status": deployment.status,
                "progress": progress,
                "message": message,
            },
        )
