"""Stored sandbox rows as the typed values the service returns."""

from __future__ import annotations

from menagerie.core.clock import utcnow
from menagerie.core.sandboxes.models import AgentAttachment, Sandbox, SandboxConfig
from menagerie.core.sandboxes.tables import SandboxRow
from menagerie.core.sandboxes.templates import TEMPLATES


def config_of(row: SandboxRow, environment: dict[str, str]) -> SandboxConfig:
    return SandboxConfig(
        runtime=row.runtime,
        vcpus=row.vcpus,
        memory_mb=row.memory_mb,
        timeout_minutes=row.timeout_minutes,
        environment=environment,
        working_directory=row.working_directory,
        disk_mb=row.disk_mb,
        network=row.network,
        allowed_commands=tuple(row.allowed_commands) if row.allowed_commands else None,
        packages=tuple(row.packages or ()),
    )


def attachment_of(row: SandboxRow) -> AgentAttachment | None:
    if row.agent_session_id is None or row.attached_at is None:
        return None
    config = row.agent_config or {}
    return AgentAttachment(
        session_id=row.agent_session_id,
        intensity=int(config.get("intensity", 50)),
        coherence_floor=int(config.get("coherenceFloor", 30)),
        enable_proactive_memory=bool(config.get("enableProactiveMemory", False)),
        attached_at=row.attached_at,
    )


def sandbox_of(row: SandboxRow, environment: dict[str, str]) -> Sandbox:
    runtime = row.runtime_seconds
    if row.status in ("running", "stopping") and row.started_at is not None:
        runtime += max((utcnow() - row.started_at).total_seconds(), 0.0)
    template = TEMPLATES.get(row.template)
    return Sandbox(
        id=row.id,
        tenant_id=row.tenant_id,
        owner_id=row.owner_id,
        name=row.name,
        template=row.template,
        kind=row.kind,
        backend=row.backend,
        status=row.status,  # type: ignore[arg-type]
        config=config_of(row, environment),
        agent=attachment_of(row),
        agent_defaults=dict(template.agent) if template is not None else {},
        created_at=row.created_at,
        started_at=row.started_at,
        stopped_at=row.stopped_at,
        last_activity_at=row.last_activity_at,
        total_runtime_seconds=round(runtime, 3),
        executions=row.executions,
        error_message=row.error_message,
        progress=row.progress,
        current_step=row.current_step,
    )
