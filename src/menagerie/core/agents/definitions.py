"""Where agents come from: personas shipped with Menagerie, `DATA_DIR/agents/*.yaml`, and
later the database.

Precedence, lowest first: built-in, file, database; a later layer replaces an agent of the same
name. A broken file (bad YAML, a field that fails validation, an `auto_load` document that does
not exist) is logged with its path and skipped; the server keeps serving the others. The
directory is read again when a file in it (or a document it loads) changes, so editing a
persona needs no restart.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import ValidationError

from menagerie.core.agents.models import AgentDefinition
from menagerie.core.errors import NotFound

log = logging.getLogger(__name__)

DOCUMENT_LIMIT = 20_000  # characters of one auto-loaded document put into a system prompt
PERSONAS = "personas"  # the package folder of the built-in persona files
Roots = list[Path]  # aliased: inside AgentCatalog, `list` is the method
Stamp = tuple[tuple[str, float], ...]


class AgentSource(Protocol):
    """Agents kept outside files (the database, later), read whole by `AgentCatalog.sync`.

    The catalogue answers synchronously from what it holds, so that the agent loop and the
    dialects never wait on storage to look an agent up; the owner of the source calls `sync`
    after a change (and at start)."""

    async def load(self) -> Sequence[AgentDefinition]: ...


class AgentFileError(ValueError):
    """A persona file that cannot be used; its message names the file and the field."""


def _describe(error: ValidationError) -> str:
    # `persona.role: Field required` rather than pydantic's multi-line report
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'agent'}: {problem['msg']}"
        for problem in error.errors()
    )


def parse_agent(text: str, origin: str, source: str) -> AgentDefinition:
    """One persona file's text as a definition; `AgentFileError` names `origin` when it fails."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise AgentFileError(f"{origin}: not valid YAML: {error}") from None
    if isinstance(data, dict) and isinstance(data.get("agent"), dict):
        data = data["agent"]  # MADACE files nest everything under `agent:`
    if not isinstance(data, dict):
        raise AgentFileError(f"{origin}: expected a mapping of agent fields")
    try:
        return AgentDefinition.model_validate({**data, "source": source})
    except ValidationError as error:
        raise AgentFileError(f"{origin}: {_describe(error)}") from None


def _builtins() -> dict[str, AgentDefinition]:
    # read through importlib.resources so that an installed wheel (or a zip) works the same
    agents: dict[str, AgentDefinition] = {}
    folder = resources.files("menagerie.core.agents") / PERSONAS
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            # a broken built-in is a packaging bug: fail loudly at start, not per request
            agent = parse_agent(entry.read_text(encoding="utf-8"), entry.name, "builtin")
            agents[agent.name] = agent
    return agents


class AgentCatalog:
    def __init__(
        self,
        directory: Path,
        documents_root: Path | None = None,
        source: AgentSource | None = None,
    ) -> None:
        self.directory = directory
        # a second place to find `auto_load` documents (the data directory), after the
        # directory of the file itself
        self.documents_root = documents_root or directory.parent
        self.source = source
        self._builtin = _builtins()
        self._files: dict[str, tuple[AgentDefinition, Path]] = {}
        self._database: dict[str, AgentDefinition] = {}
        self._stamp: Stamp | None = None
        self._watched: Roots = []  # auto_load candidates whose appearance reloads

    # --- lookups -----------------------------------------------------------------------

    def list(self) -> list[AgentDefinition]:
        merged = self._merged()
        return [merged[name] for name in sorted(merged)]

    def names(self) -> list[str]:
        return sorted(self._merged())

    def get(self, name: str) -> AgentDefinition:
        merged = self._merged()
        if name in merged:
            return merged[name]
        raise NotFound(
            f"Agent '{name}' does not exist",
            reason="AGENT_NOT_FOUND",
            details={"agent": name, "available": sorted(merged)},
        )

    def system_prompt(self, agent: AgentDefinition) -> str:
        return agent.system_prompt(self.documents(agent))

    def documents(self, agent: AgentDefinition) -> dict[str, str]:
        """The agent's `auto_load` documents, read now so that edits to them apply at once.

        File agents were checked at load; a document removed since then is logged and left
        out rather than failing the conversation."""
        found: dict[str, str] = {}
        for name in agent.auto_load:
            path = self._document(agent, name)
            if path is None:
                log.warning("agent %s: auto_load document %s not found", agent.name, name)
                continue
            found[name] = path.read_text(encoding="utf-8", errors="replace")[:DOCUMENT_LIMIT]
        return found

    # --- the database seam ---------------------------------------------------------------

    async def sync(self) -> None:
        """Take the source's agents; on failure keep the last ones, so lookups keep working."""
        if self.source is None:
            return
        try:
            loaded = await self.source.load()
        except Exception:  # a storage hiccup must not take every agent away
            log.exception("agent source failed; keeping the %d agents held", len(self._database))
            return
        self._database = {
            agent.name: agent.model_copy(update={"source": "database"}) for agent in loaded
        }

    # --- files ---------------------------------------------------------------------------

    def _merged(self) -> dict[str, AgentDefinition]:
        self._refresh()
        merged = dict(self._builtin)
        merged.update({name: agent for name, (agent, _) in self._files.items()})
        merged.update(self._database)
        return merged

    def _roots(self, agent: AgentDefinition) -> Roots:
        held = self._files.get(agent.name)
        own = [held[1].parent] if held and held[0] is agent else []
        return [*own, self.documents_root]

    def _document(
        self, agent: AgentDefinition, name: str, roots: Roots | None = None
    ) -> Path | None:
        for root in roots if roots is not None else self._roots(agent):
            path = (root / name).resolve()
            # documents come from the operator's directories only, never from elsewhere
            if path.is_relative_to(root.resolve()) and path.is_file():
                return path
        return None

    def _load_file(self, path: Path) -> AgentDefinition:
        agent = parse_agent(path.read_text(encoding="utf-8"), str(path), "file")
        roots = [path.parent, self.documents_root]
        missing = [name for name in agent.auto_load if self._document(agent, name, roots) is None]
        if missing:
            # keep watching: creating the document makes the agent appear without a restart
            self._watched += [root / name for name in missing for root in roots]
            looked = " or ".join(str(root) for root in roots)
            raise AgentFileError(
                f"{path}: auto_load document(s) {', '.join(missing)} not found in {looked}"
            )
        return agent

    def _files_stamp(self) -> tuple[Roots, Stamp]:
        try:
            paths = sorted(self.directory.glob("*.yaml")) + sorted(self.directory.glob("*.yml"))
            return paths, tuple((str(p), p.stat().st_mtime) for p in paths)
        except OSError:  # no directory (yet), or a file removed while listing
            return [], ()

    def _refresh(self) -> None:
        paths, stamp = self._files_stamp()
        # a missing auto_load document that appeared since the last load counts as a change
        if stamp == self._stamp and not any(p.exists() for p in self._watched):
            return
        self._watched = []
        files: dict[str, tuple[AgentDefinition, Path]] = {}
        for path in paths:
            try:
                agent = self._load_file(path)
            except AgentFileError as error:
                log.warning("agent file skipped: %s", error)
                continue
            except (OSError, UnicodeDecodeError) as error:
                log.warning("agent file %s skipped: %s", path, error)
                continue
            if agent.name in files:
                log.warning(
                    "agent file %s skipped: %s already defines %r",
                    path,
                    files[agent.name][1],
                    agent.name,
                )
                continue
            files[agent.name] = (agent, path)
        self._files = files
        self._stamp = stamp
