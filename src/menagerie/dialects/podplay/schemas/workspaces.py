"""PodPlay's development workspace wire models (seed 000 "Development Workspaces API").

Sizes travel as PodPlay writes them ("8GB", "512MB") and are megabytes in core. Fields the
seed does not show are Menagerie's additions, marked so.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from menagerie.core.clock import iso
from menagerie.core.sandboxes.models import Sandbox
from menagerie.realtime.podplay_workspaces import status_word

WorkspaceType = Literal["nixos", "docker", "codespace"]
# the list's filter: the seed's three words, and the two on the way between them
StatusFilter = Literal["running", "stopped", "paused", "starting", "stopping"]

SIZE_PATTERN = r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([MmGgTt])[Ii]?[Bb]\s*$"
_SIZE = re.compile(SIZE_PATTERN)
_UNIT_MB = {"m": 1, "g": 1024, "t": 1024 * 1024}
MAX_SIZE_MB = 16 * 1024 * 1024  # 16TB: anything larger is a typo


def megabytes(text: str) -> int:
    """ "8GB" -> 8192, "512MB" -> 512, "1.5GB" -> 1536 (binary units, as PodPlay means them)."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size such as 512MB or 8GB")
    return round(float(match[1]) * _UNIT_MB[match[2].lower()])


def size_text(mb: int) -> str:
    """8192 -> "8GB", 512 -> "512MB": the seed's way of writing a size."""
    return f"{mb // 1024}GB" if mb % 1024 == 0 else f"{mb}MB"


def _sensible(text: str) -> str:
    if not 1 <= megabytes(text) <= MAX_SIZE_MB:
        raise ValueError(f"{text!r} must be between 1MB and 16TB")
    return text


Size = Annotated[
    str,
    Field(
        pattern=SIZE_PATTERN,
        max_length=32,
        description="a size with its unit: MB, GB or TB (binary: 1GB = 1024MB)",
        examples=["8GB"],
    ),
    AfterValidator(_sensible),
]
Package = Annotated[str, Field(min_length=1, max_length=128)]


# ---- requests ------------------------------------------------------------------------------


class ConfigurationIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    memory: Size | None = Field(None, description="default: the tier's, up to 4GB")
    cpu_cores: int | None = Field(None, ge=1, le=64, strict=True)
    disk_space: Size | None = Field(
        None, description="the largest file the workspace may write; default 20GB"
    )
    packages: list[Package] = Field(
        default_factory=list,
        max_length=200,
        description="recorded with the workspace; the host's tools are what it runs",
    )
    environment_variables: dict[str, str] = Field(default_factory=dict, max_length=100)


class CreateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=200)
    type: WorkspaceType
    template: str | None = Field(None, max_length=128, description="recorded as given")
    configuration: ConfigurationIn = Field(default_factory=ConfigurationIn)
    auto_start: bool = Field(
        False, strict=True, description="start it now; otherwise it is created stopped"
    )


# ---- responses -----------------------------------------------------------------------------


class ConfigurationOut(BaseModel):
    memory: str
    cpu_cores: int
    disk_space: str
    packages: list[str]


class WorkspaceOut(BaseModel):
    workspace_id: str
    name: str
    type: str
    status: str = Field(description="stopped, starting, running or stopping")
    created_at: str
    last_accessed: str = Field(description="the latest command or start; creation before any")
    configuration: ConfigurationOut
    access_url: str = Field(description="this server's URL of the workspace")
    port_mappings: dict[str, str] = Field(
        description="always empty: no workspace port is forwarded yet"
    )
    # Menagerie's additions
    template: str
    error_message: str | None = Field(None, description="why the latest start failed")

    @classmethod
    def of(cls, sandbox: Sandbox, access_url: str) -> Self:
        config = sandbox.config
        accessed = sandbox.last_activity_at or sandbox.started_at or sandbox.created_at
        return cls(
            workspace_id=sandbox.id,
            name=sandbox.name,
            type=sandbox.kind,
            status=status_word(sandbox.status),
            created_at=iso(sandbox.created_at) or "",
            last_accessed=iso(accessed) or "",
            configuration=ConfigurationOut(
                memory=size_text(config.memory_mb),
                cpu_cores=config.vcpus,
                disk_space=size_text(config.disk_mb),
                packages=list(config.packages),
            ),
            access_url=access_url,
            port_mappings={},
            template=sandbox.template,
            error_message=sandbox.error_message,
        )


class WorkspacesOut(BaseModel):
    success: bool = True
    workspaces: list[WorkspaceOut]


class WorkspaceDetailOut(WorkspaceOut):
    """`GET /api/workspaces/{id}`, Menagerie's addition: what `access_url` points at."""

    success: bool = True


class CreatedOut(BaseModel):
    success: bool = True
    workspace_id: str
    name: str
    type: str
    status: str = Field(description="creating (auto_start) or stopped")
    estimated_setup_time: str = Field(description="from the starts measured on this server")
    access_url: str


class StartedOut(BaseModel):
    success: bool = True
    workspace_id: str
    status: str
    estimated_start_time: str = Field(description="from the starts measured on this server")


class StoppedOut(BaseModel):
    success: bool = True
    workspace_id: str
    status: str
    data_preserved: bool = Field(True, description="a stopped workspace keeps its files")


class DeletedOut(BaseModel):
    success: bool = True
    workspace_id: str
    message: str = "Workspace deleted successfully"
    data_backup_available: bool = Field(False, description="a deleted workspace's files are gone")
