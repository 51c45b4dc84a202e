"""Installations in the database: which servers each tenant installed, their sealed
configuration and their last recorded status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from menagerie.core.clock import utcnow
from menagerie.core.crypto import SecretBox
from menagerie.core.errors import Conflict, LimitReached, NotFound
from menagerie.core.tools.catalog import Catalog
from menagerie.core.tools.entries import entry_from_definition
from menagerie.core.tools.models import CatalogEntry
from menagerie.core.tools.tables import McpInstallationRow
from menagerie.storage.database import Database


class Installations:
    def __init__(self, database: Database, secrets: SecretBox, catalog: Catalog) -> None:
        self.database = database
        self._secrets = secrets
        self._catalog = catalog

    # -- reading ----------------------------------------------------------------------------

    async def all(self) -> list[McpInstallationRow]:
        async with self.database.session() as session:
            return list((await session.scalars(select(McpInstallationRow))).all())

    async def of_tenant(self, tenant_id: str) -> list[McpInstallationRow]:
        async with self.database.session() as session:
            rows = await session.scalars(
                select(McpInstallationRow)
                .where(McpInstallationRow.tenant_id == tenant_id)
                .order_by(McpInstallationRow.installed_at, McpInstallationRow.server_name)
            )
            return list(rows)

    async def names(self, tenant_id: str) -> set[str]:
        async with self.database.session() as session:
            names = await session.scalars(
                select(McpInstallationRow.server_name).where(
                    McpInstallationRow.tenant_id == tenant_id
                )
            )
            return set(names)

    async def count(self, tenant_id: str | None = None) -> int:
        """Installations of one tenant, or of every tenant."""
        query = select(func.count()).select_from(McpInstallationRow)
        if tenant_id is not None:
            query = query.where(McpInstallationRow.tenant_id == tenant_id)
        async with self.database.session() as session:
            return int(await session.scalar(query) or 0)

    async def get(self, installation_id: str) -> McpInstallationRow | None:
        async with self.database.session() as session:
            return await session.get(McpInstallationRow, installation_id)

    async def named(self, tenant_id: str, server_name: str) -> McpInstallationRow:
        """The tenant's installation of `server_name`; another tenant's is not found."""
        async with self.database.session() as session:
            row = await session.scalar(self._named(tenant_id, server_name))
        if row is None:
            raise NotFound(
                f"MCP server {server_name} is not installed", reason="SERVER_NOT_INSTALLED"
            )
        return row

    def entry(self, row: McpInstallationRow) -> CatalogEntry:
        if row.definition:
            return entry_from_definition(row.definition)
        return self._catalog.get(row.server_name)

    def configuration(self, row: McpInstallationRow) -> dict[str, Any]:
        value = self._secrets.open_json(row.configuration_sealed)
        return value if isinstance(value, dict) else {}

    # -- writing ----------------------------------------------------------------------------

    def seal(self, configuration: dict[str, Any]) -> str:
        return self._secrets.seal_json(configuration)

    async def add(self, row: McpInstallationRow, *, limit: int) -> None:
        """Store a new installation, unless the tenant has `limit` or already has this one."""
        async with self.database.session() as session:
            count = await session.scalar(
                select(func.count()).where(McpInstallationRow.tenant_id == row.tenant_id)
            )
            if (count or 0) >= limit:
                raise LimitReached(
                    f"at most {limit} MCP servers per tenant", reason="INSTALLATION_LIMIT"
                )
            existing = await session.scalar(self._named(row.tenant_id, row.server_name))
            if existing is not None:
                raise Conflict(
                    f"{row.server_name} is already installed", reason="ALREADY_INSTALLED"
                )
            session.add(row)

    async def delete(self, installation_id: str) -> None:
        async with self.database.session() as session:
            row = await session.get(McpInstallationRow, installation_id)
            if row is not None:
                await session.delete(row)

    async def reconfigure(
        self, installation_id: str, configuration: dict[str, Any]
    ) -> McpInstallationRow:
        async with self.database.session() as session:
            row = await session.get(McpInstallationRow, installation_id)
            if row is None:
                raise NotFound("the installation was removed", reason="SERVER_NOT_INSTALLED")
            row.configuration_sealed = self.seal(configuration)
            row.updated_at = utcnow()
            return row

    async def record_status(
        self,
        installation_id: str,
        status: str,
        error: str | None,
        checked: datetime | None = None,
    ) -> None:
        async with self.database.session() as session:
            row = await session.get(McpInstallationRow, installation_id)
            if row is None:
                return  # uninstalled meanwhile
            row.status = status
            row.error = error
            row.updated_at = utcnow()
            if checked is not None:
                row.last_health_check = checked

    def _named(self, tenant_id: str, server_name: str) -> Select[tuple[McpInstallationRow]]:
        return select(McpInstallationRow).where(
            McpInstallationRow.tenant_id == tenant_id,
            McpInstallationRow.server_name == server_name,
        )
