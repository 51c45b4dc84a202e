"""Import and export of the MCP client configurations people already keep.

Claude Desktop's `{"mcpServers": …}` and VS Code's `mcp.json` become installations; the
installations go back out in either format with their secrets masked.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from menagerie.core.errors import Conflict, Invalid
from menagerie.core.identity.models import Principal
from menagerie.core.redact import Redactor
from menagerie.core.tools.clientconfig import (
    ImportedServer,
    export_claude_desktop,
    export_vscode,
    parse_client_config,
)
from menagerie.core.tools.launch import base_environment
from menagerie.core.tools.models import Installation
from menagerie.core.tools.service import ToolService
from menagerie.core.tools.urlguard import check_url

ExportFormat = Literal["claude_desktop", "vscode"]
MAX_IMPORTED = 50


async def import_servers(
    service: ToolService, principal: Principal, data: dict[str, Any], *, auto_start: bool = True
) -> list[Installation]:
    """Install every server of a client configuration, after checking all of them first."""
    servers = parse_client_config(data)
    if len(servers) > MAX_IMPORTED:
        raise Invalid(f"at most {MAX_IMPORTED} servers per import", field="servers")
    installed = await service.installed_names(principal)
    taken = [s.name for s in servers if s.name in installed or s.name in service.catalog]
    if taken:
        raise Conflict(
            f"already installed or taken by the catalogue: {', '.join(taken)}",
            reason="ALREADY_INSTALLED",
        )
    for server in servers:
        if server.url is not None:
            await check_url(server.url, allow_private=service.settings.allow_private_urls)
    results = []
    for server in servers:
        # the entry kept beside the installation must hold nothing secret: no URL, no command
        entry = dataclasses.replace(
            server.to_entry(), description=f"Imported MCP server ({server.transport})"
        )
        results.append(
            await service.install(
                principal,
                server.name,
                server.configuration(),
                auto_start=auto_start,
                entry=entry,
            )
        )
    return results


async def export_servers(
    service: ToolService, principal: Principal, fmt: ExportFormat
) -> dict[str, Any]:
    servers: list[ImportedServer] = []
    for installation, plan, secrets in await service.launch_plans(principal):
        if plan is None:
            continue  # not installed yet, or no longer startable: nothing to write down
        mask = Redactor(secrets)
        if plan.url is not None and not plan.local_http:
            servers.append(
                ImportedServer(
                    installation.server_name,
                    plan.transport,
                    url=mask(plan.url),
                    headers={k: mask(v) for k, v in plan.headers.items()},
                )
            )
            continue
        # the variables Menagerie sets for every server are not the user's to carry along
        ours = set(base_environment(None, service.settings.root / installation.id))
        servers.append(
            ImportedServer(
                installation.server_name,
                "stdio",
                command=plan.command,
                args=tuple(mask(a) for a in plan.args),
                env={k: mask(v) for k, v in plan.env.items() if k not in ours},
            )
        )
    return export_claude_desktop(servers) if fmt == "claude_desktop" else export_vscode(servers)
