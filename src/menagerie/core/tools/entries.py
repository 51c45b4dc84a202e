"""Storing the catalogue entry of an imported server beside its installation.

Only what is not secret is kept here (name, description, category, transport); the command,
URL, arguments, headers and environment are part of the installation's sealed configuration.
"""

from __future__ import annotations

from typing import Any

from menagerie.core.tools.clientconfig import parse_transport
from menagerie.core.tools.models import CatalogEntry, Remote


def entry_to_definition(entry: CatalogEntry) -> dict[str, Any]:
    transport = entry.remotes[0].transport if entry.remotes else "stdio"
    return {
        "name": entry.name,
        "description": entry.description,
        "category": entry.category,
        "transport": transport,
    }


def entry_from_definition(definition: dict[str, Any]) -> CatalogEntry:
    transport = parse_transport(definition.get("transport", "stdio"), "transport")
    return CatalogEntry(
        name=str(definition["name"]),
        description=str(definition.get("description", "")),
        version="custom",
        category=str(definition.get("category", "custom")),
        # the URL itself lives in the sealed configuration
        remotes=(Remote(transport, ""),) if transport != "stdio" else (),
        author="imported",
        custom=True,
    )
