"""Sandbox templates: the defaults, the command allow-list and the network a sandbox gets.

Metamorph names three templates (seed 003); PodPlay workspaces name a type and a free-form
template of their own, and run whatever their terminal is told (no allow-list).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from menagerie.core.errors import Invalid

# seed 003 "Allowed Commands"
METAMORPH_COMMANDS: tuple[str, ...] = (
    "node",
    "npm",
    "npx",
    "ls",
    "cat",
    "pwd",
    "echo",
    "mkdir",
    "touch",
    "rm",
    "cp",
    "mv",
)
# runtimes are labels for what the host offers inside the sandbox (/usr is shared read-only)
RUNTIMES: tuple[str, ...] = ("node22", "node20", "python3")
DEFAULT_RUNTIME = "node22"
METAMORPH_WORKDIR = "/vercel/sandbox"  # seed 003's default workingDirectory
WORKSPACE_WORKDIR = "/workspace"  # PodPlay's examples (`PYTHONPATH=/workspace/src`)


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    vcpus: int
    memory_mb: int
    timeout_minutes: int
    working_directory: str
    network: bool  # whether commands may reach the network
    allowed_commands: tuple[str, ...] | None
    disk_mb: int = 1024
    runtime: str = DEFAULT_RUNTIME
    agent: dict[str, Any] = field(default_factory=dict)  # the agent settings it suggests


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "metamorph-basic",
            vcpus=2,
            memory_mb=2048,
            timeout_minutes=30,
            working_directory=METAMORPH_WORKDIR,
            network=False,
            allowed_commands=METAMORPH_COMMANDS,
            agent={"intensity": 50, "enableProactiveMemory": False},
        ),
        Template(
            "metamorph-research",
            vcpus=4,
            memory_mb=4096,
            timeout_minutes=60,
            working_directory=METAMORPH_WORKDIR,
            network=True,  # research fetches packages and pages
            allowed_commands=METAMORPH_COMMANDS,
            agent={"intensity": 60, "enableProactiveMemory": True},
        ),
        Template(
            "metamorph-autonomous",
            vcpus=4,
            memory_mb=8192,
            timeout_minutes=120,
            working_directory=METAMORPH_WORKDIR,
            network=True,
            allowed_commands=METAMORPH_COMMANDS,
            agent={"intensity": 80, "enableProactiveMemory": True},
        ),
        # PodPlay's development workspaces: a shell's worth of commands, no network by default
        Template(
            "workspace",
            vcpus=2,
            memory_mb=4096,
            timeout_minutes=120,
            working_directory=WORKSPACE_WORKDIR,
            network=False,
            allowed_commands=None,
            disk_mb=20 * 1024,
        ),
    )
}
DEFAULT_TEMPLATE = "metamorph-basic"


def template(name: str | None) -> Template:
    chosen = name or DEFAULT_TEMPLATE
    found = TEMPLATES.get(chosen)
    if found is None or chosen == "workspace":
        names = [n for n in TEMPLATES if n != "workspace"]
        raise Invalid(
            f"unknown template {chosen!r}; templates: {', '.join(names)}",
            field="template",
            received=chosen,
            expected=" | ".join(names),
        )
    return found


def runtime(name: str | None) -> str:
    chosen = name or DEFAULT_RUNTIME
    if chosen not in RUNTIMES:
        raise Invalid(
            f"unknown runtime {chosen!r}; runtimes: {', '.join(RUNTIMES)}",
            field="runtime",
            received=chosen,
            expected=" | ".join(RUNTIMES),
        )
    return chosen
