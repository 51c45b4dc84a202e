"""Where a project's files live under `DATA_DIR/madace/`, and whose a file there is.

The operator's tenant (the default one) uses the directories themselves, as a single MADACE
installation does (`workflow-states/.plan-project.state.json`, `config/config.yaml`); any
other tenant a folder of its own inside each (`workflow-states/<tenant>/…`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from menagerie.core.errors import Invalid

ROOT = "madace"
STATES = "workflow-states"
CONFIG = "config"
WORKFLOWS = "workflows"
CONFIG_FILE = "config.yaml"
ENV_FILE = ".env"
STATE_SUFFIX = ".state.json"
STATUS_FILE = "workflow-status.md"
# the seed's own spelling of the folder these files live in (`madace-data/workflow-states`)
SEED_ROOT = "madace-data"
MAX_DEPTH = 8
MAX_NAME = 100
_SAFE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ProjectLayout:
    data_dir: Path
    operator_tenant: str
    status_path: Path | None = None  # the operator's workflow status file, from settings

    @property
    def root(self) -> Path:
        return self.data_dir / ROOT

    @property
    def workflows_dir(self) -> Path:
        return self.root / WORKFLOWS

    @property
    def states_root(self) -> Path:
        return self.root / STATES

    @property
    def config_root(self) -> Path:
        return self.root / CONFIG

    def folder(self, tenant_id: str) -> str | None:
        """The tenant's folder name inside each directory; None for the operator's tenant."""
        if tenant_id == self.operator_tenant:
            return None
        if _SAFE.match(tenant_id):
            return tenant_id
        return "t-" + hashlib.sha256(tenant_id.encode()).hexdigest()[:32]

    def _within(self, base: Path, tenant_id: str) -> Path:
        folder = self.folder(tenant_id)
        return base if folder is None else base / folder

    def states_dir(self, tenant_id: str) -> Path:
        return self._within(self.states_root, tenant_id)

    def state_file(self, tenant_id: str, workflow_name: str) -> Path:
        return self.states_dir(tenant_id) / f".{workflow_name}{STATE_SUFFIX}"

    def config_file(self, tenant_id: str) -> Path:
        return self._within(self.config_root, tenant_id) / CONFIG_FILE

    def env_file(self, tenant_id: str) -> Path:
        return self._within(self.config_root, tenant_id) / ENV_FILE

    def shown(self, path: Path) -> str:
        """A path as answers show it: relative to the data directory, never absolute."""
        try:
            return path.relative_to(self.data_dir).as_posix()
        except ValueError:
            return path.name

    def status_file(self, tenant_id: str) -> Path:
        """The workflow status file: the configured one for the operator's tenant, one in a
        folder of its own beside it for any other tenant."""
        path = self.status_path or self.root / STATUS_FILE
        folder = self.folder(tenant_id)
        return path if folder is None else path.parent / folder / path.name

    def resolve(self, given: str, field: str) -> Path:
        """A client's path inside `DATA_DIR/madace` (the seed's `madace-data/…` is that
        folder); anything that leads outside it is refused."""
        text = given.strip().replace("\\", "/")
        if not text or "\x00" in text:
            raise Invalid(f"{field} must name a path", field=field, received=given)
        parts = [part for part in text.split("/") if part not in ("", ".")]
        if parts and parts[0] in (SEED_ROOT, ROOT):
            parts = parts[1:]
        if len(parts) > MAX_DEPTH or any(len(part) > MAX_NAME for part in parts):
            raise Invalid(
                f"{field} is too deep or has a name too long",
                field=field,
                received=given[:200],
                expected=f"at most {MAX_DEPTH} names of at most {MAX_NAME} characters",
            )
        root = self.root.resolve()
        try:
            candidate = root.joinpath(*parts).resolve() if parts else root
        except (OSError, RuntimeError):  # a link loop
            raise Invalid(f"{field} cannot be resolved", field=field, received=given) from None
        if not candidate.is_relative_to(root) or text.startswith("/"):
            raise Invalid(
                f"{field} must stay inside the MADACE data folder",
                field=field,
                received=given,
                expected=f"a path under {SEED_ROOT}/",
                reason="PATH_OUTSIDE_DATA",
            )
        return candidate

    def key(self, tenant_id: str) -> str:
        """The tenant's folder name, "" for the operator's tenant: what `owner_of` answers."""
        return self.folder(tenant_id) or ""

    def owner_of(self, path: Path, base: Path) -> str | None:
        """Whose a file under `base` (a states or config folder) is, as a `key`: the
        operator's ("") when it lies in `base` itself, a tenant's in its folder, else None."""
        try:
            parts = path.relative_to(base).parts
        except ValueError:
            return None
        if len(parts) == 1:
            return ""
        if len(parts) == 2:
            return parts[0]
        return None
