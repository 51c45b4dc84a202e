"""Where workflows come from: definitions shipped with Menagerie (`builtin/*.yaml`) and the
operator's `DATA_DIR/madace/workflows/*.yaml`, which replace a built-in of the same name.

The directory is read again when a file in it changes (its names, sizes and times are
compared on each look-up, which costs a few `stat` calls). A broken file (bad YAML, a field
that fails validation) is logged with its path and skipped; the others are still served.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from menagerie.core.errors import NotFound
from menagerie.core.workflows.models import WorkflowDefinition

log = logging.getLogger(__name__)

BUILTIN = "builtin"  # the package folder of the shipped definitions
MAX_FILE_BYTES = 256 * 1024
Stamp = tuple[tuple[str, int, int], ...]


class WorkflowFileError(ValueError):
    """A definition file that cannot be used; its message names the file and the field."""


def parse_workflow(text: str, origin: str) -> WorkflowDefinition:
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise WorkflowFileError(f"{origin}: not valid YAML: {error}") from None
    if isinstance(data, dict) and isinstance(data.get("workflow"), dict):
        data = data["workflow"]  # MADACE's files nest the definition under `workflow:`
    if not isinstance(data, dict):
        raise WorkflowFileError(f"{origin}: a workflow file holds a mapping")
    try:
        return WorkflowDefinition.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'workflow'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise WorkflowFileError(f"{origin}: {problems}") from None


def _builtin() -> dict[str, WorkflowDefinition]:
    found: dict[str, WorkflowDefinition] = {}
    folder = resources.files(__package__).joinpath(BUILTIN)
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".yaml"):
            definition = parse_workflow(entry.read_text(encoding="utf-8"), entry.name)
            found[definition.name] = definition
    return found


class WorkflowCatalog:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._builtin = _builtin()
        self._stamp: Stamp | None = None
        self._files: dict[str, WorkflowDefinition] = {}

    def list(self) -> list[WorkflowDefinition]:
        self._refresh()
        merged = {**self._builtin, **self._files}
        return [merged[name] for name in sorted(merged)]

    def get(self, name: str) -> WorkflowDefinition:
        self._refresh()
        found = self._files.get(name) or self._builtin.get(name)
        if found is None:
            raise NotFound(
                f"Workflow '{name}' does not exist",
                reason="WORKFLOW_NOT_FOUND",
                details={"text": "Available workflows: " + ", ".join(w.name for w in self.list())},
            )
        return found

    def _paths(self) -> list[Path]:
        try:
            return sorted(p for p in self.directory.glob("*.yaml") if p.is_file())
        except OSError:
            return []

    def _refresh(self) -> None:
        paths = self._paths()
        stamp: list[tuple[str, int, int]] = []
        for path in paths:
            try:
                info = path.stat()
            except OSError:
                continue
            stamp.append((path.name, info.st_mtime_ns, info.st_size))
        if tuple(stamp) == self._stamp:
            return
        self._stamp = tuple(stamp)
        loaded: dict[str, WorkflowDefinition] = {}
        for path in paths:
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    raise WorkflowFileError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
                definition = parse_workflow(path.read_text(encoding="utf-8"), str(path))
            except (OSError, UnicodeDecodeError, WorkflowFileError) as error:
                log.warning("workflow file skipped: %s", error)
                continue
            loaded[definition.name] = definition
        self._files = loaded
