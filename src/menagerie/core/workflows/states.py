"""Each tenant's workflow states: rows of the database, mirrored as the seed's JSON files
(`workflow-states/.<name>.state.json`) for the sync service and for tools that read them.

The database is the truth; a mirror that cannot be written is logged, never the step's
failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

from menagerie.core.clock import epoch_ms
from menagerie.core.projects.layout import ProjectLayout
from menagerie.core.workflows.models import WorkflowState
from menagerie.core.workflows.tables import WorkflowStateRow
from menagerie.storage.database import Database

log = logging.getLogger(__name__)


def _state(row: WorkflowStateRow) -> WorkflowState:
    return WorkflowState(
        tenant_id=row.tenant_id,
        workflow_name=row.workflow_name,
        current_step=row.current_step,
        total_steps=row.total_steps,
        completed=row.completed,
        started_at=row.started_at,
        updated_at=row.updated_at,
        variables=dict(row.variables or {}),
        session_id=row.session_id,
    )


def mirror_document(state: WorkflowState) -> dict[str, Any]:
    return {
        "workflowName": state.workflow_name,
        "currentStep": state.current_step,
        "totalSteps": state.total_steps,
        "completed": state.completed,
        "status": state.status,
        "startedAt": epoch_ms(state.started_at),
        "updatedAt": epoch_ms(state.updated_at),
        "variables": state.variables,
    }


class WorkflowStates:
    def __init__(self, database: Database, layout: ProjectLayout) -> None:
        self.database = database
        self.layout = layout

    async def get(self, tenant_id: str, workflow_name: str) -> WorkflowState | None:
        async with self.database.session() as session:
            row = await session.get(WorkflowStateRow, (tenant_id, workflow_name))
            return None if row is None else _state(row)

    async def put(self, state: WorkflowState) -> None:
        async with self.database.session() as session:
            row = await session.get(WorkflowStateRow, (state.tenant_id, state.workflow_name))
            if row is None:
                row = WorkflowStateRow(tenant_id=state.tenant_id, workflow_name=state.workflow_name)
                session.add(row)
            row.current_step = state.current_step
            row.total_steps = state.total_steps
            row.completed = state.completed
            row.variables = dict(state.variables)
            row.session_id = state.session_id
            row.started_at = state.started_at
            row.updated_at = state.updated_at
        await asyncio.to_thread(self._mirror, state)

    def _mirror(self, state: WorkflowState) -> None:
        path = self.layout.state_file(state.tenant_id, state.workflow_name)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(mirror_document(state), indent=2), encoding="utf-8")
            os.replace(temporary, path)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            log.warning(
                "workflow state %s not mirrored to %s: %s", state.workflow_name, path, error
            )
