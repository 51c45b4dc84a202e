"""How the sandbox service is configured (built from the server settings by the platform)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from menagerie.core.sandboxes.models import TierLimits
from menagerie.settings import Settings

# seed 003's usage example shows the free tier; its limit error mentions a tier of five
DEFAULT_TIERS: dict[str, TierLimits] = {
    "free": TierLimits(1, 10, 2, 2048, 30),
    "pro": TierLimits(5, 100, 4, 8192, 120),
    "team": TierLimits(20, 1000, 8, 16384, 480),
}


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    root: Path  # workspaces live at root/<tenant>/<sandbox id>
    backend: str = "auto"  # auto | bwrap | process
    tier: str = "pro"
    tiers: dict[str, TierLimits] = field(default_factory=lambda: dict(DEFAULT_TIERS))
    operator_tenant: str = "default"
    allow_weak: bool = False  # the process backend for tenants other than the operator's
    idle_check_s: float = 30.0
    retention_days: float = 7.0  # a stopped sandbox's files are kept this long
    output_bytes: int = 1_000_000
    max_exec_timeout_ms: int = 600_000
    max_files: int = 100
    max_file_bytes: int = 5 * 1024 * 1024
    max_processes: int = 256
    uid_base: int = 200_000  # sandboxes run as uid_base + n when the server runs as root

    @property
    def limits(self) -> TierLimits:
        return self.tiers[self.tier]


def sandbox_settings_from(settings: Settings) -> SandboxSettings:
    """The sandbox service's settings from the server's (tiers: the defaults plus any named)."""
    tiers = dict(DEFAULT_TIERS)
    for name, tier in settings.sandbox_tiers.items():
        tiers[name] = TierLimits(
            tier.maxSandboxes,
            tier.maxRuntimeHours,
            tier.maxVcpus,
            tier.maxMemoryMb,
            tier.maxTimeoutMinutes,
        )
    if settings.sandbox_tier not in tiers:
        raise ValueError(
            f"MENAGERIE_SANDBOX_TIER {settings.sandbox_tier!r} is not a tier: {', '.join(tiers)}"
        )
    return SandboxSettings(
        root=settings.resolved_data_dir / "sandboxes",
        backend=settings.sandbox_backend,
        tier=settings.sandbox_tier,
        tiers=tiers,
        operator_tenant=settings.default_tenant,
        allow_weak=settings.sandbox_allow_weak,
        idle_check_s=settings.sandbox_idle_check_s,
        retention_days=settings.sandbox_retention_days,
        output_bytes=settings.sandbox_output_bytes,
        max_file_bytes=settings.sandbox_max_file_bytes,
        max_processes=settings.sandbox_max_processes,
    )
