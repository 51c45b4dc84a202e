"""What the deployments service returns: typed values, never rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Provider = Literal["local", "secret_vm", "akash"]
Status = Literal["deploying", "running", "stopped"]
ProbeStatus = Literal["healthy", "unhealthy", "unreachable", "stopped"]
PROVIDERS: tuple[Provider, ...] = ("local", "secret_vm", "akash")
STATUSES: tuple[Status, ...] = ("deploying", "running", "stopped")
ACTIVE: tuple[Status, ...] = ("deploying", "running")
# what a deployment asks for unless its request overrides it
DEFAULT_RESOURCES: dict[str, float | int] = {"cpu": 1.0, "memory_mb": 1024}
SORTS = ("created_at", "updated_at", "status", "provider", "nft_token_id")


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    tenant_id: str
    user_id: str
    nft_token_id: str
    provider: Provider
    status: Status
    resources: dict[str, Any]
    endpoint_url: str | None
    port: int | None
    pid: int | None
    restarts: int
    message: str
    created_at: datetime
    updated_at: datetime
    stopped_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True, slots=True)
class Probe:
    """The deployment's process as asked just now: its own `/health`, over HTTP."""

    status: ProbeStatus
    checked_at: datetime
    response_ms: float | None  # the round trip of the probe, when it was answered
    pid: int | None  # the process this server supervises for it, when one runs here
    restarts: int  # times the supervisor started it again after it ended
    last_exit: str | None  # how its previous process ended, in words
    detail: str  # what the probe saw, in words


@dataclass(frozen=True, slots=True)
class Deployed:
    """The answer to a deploy: the deployment, and how long it may still take to run."""

    deployment: Deployment
    estimated_time_s: int


@dataclass(frozen=True, slots=True)
class DeploymentPage:
    deployments: list[Deployment]
    total: int
    limit: int
    offset: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.deployments) < self.total


@dataclass(frozen=True, slots=True)
class DeploymentQuery:
    status: Status | None = None
    provider: Provider | None = None
    limit: int = 50
    offset: int = 0
    sort: str = "created_at"
    descending: bool = True
