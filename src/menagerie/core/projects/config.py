"""A tenant's project configuration: `config.yaml` for what may be shown, `.env` beside it
(mode 0600) for every secret in it.

A key is a secret when its name says so (`api_key`, `token`, `password` … as MCP
configurations are judged); its value goes to `.env` under the key's path in capitals
(`llm.api_key` -> `LLM_API_KEY`) and never into `config.yaml` nor any answer. A save that
leaves a secret out keeps the one stored (a form that never shows the key can still be
saved); an empty string removes it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from menagerie.core.errors import Internal, NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.projects.layout import ProjectLayout
from menagerie.core.tools.secrets import looks_secret

_ENV_NAME = re.compile(r"[^A-Z0-9]+")
_ENV_LINE = re.compile(r"^([A-Z_][A-Z0-9_]*)=(.*)$")


@dataclass(frozen=True, slots=True)
class SavedConfig:
    config_path: str  # relative to the data directory, as answers show it
    env_path: str
    secrets: int  # how many secrets `.env` holds now


def split_secrets(
    document: dict[str, Any], path: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, str]]:
    """The document without its secrets, and the secrets by their `.env` name."""
    shown: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    for key, value in document.items():
        here = (*path, str(key))
        if isinstance(value, dict):
            inner, found = split_secrets(value, here)
            shown[key] = inner
            secrets.update(found)
        elif looks_secret(str(key)) and isinstance(value, str | int | float):
            secrets[env_name(here)] = str(value)
        else:
            shown[key] = value
    return shown, secrets


def env_name(path: tuple[str, ...]) -> str:
    name = _ENV_NAME.sub("_", "_".join(path).upper()).strip("_") or "SECRET"
    return name if not name[0].isdigit() else f"_{name}"


def read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return values
    for line in text.splitlines():
        match = _ENV_LINE.match(line.strip())
        if match:
            raw = match.group(2)
            try:
                values[match.group(1)] = json.loads(raw) if raw.startswith('"') else raw
            except json.JSONDecodeError:
                values[match.group(1)] = raw
    return values


def _env_lines(secrets: dict[str, str]) -> Iterator[str]:
    yield "# secrets of config.yaml, kept apart from it; written by Menagerie"
    for name in sorted(secrets):
        # JSON's quoting is dotenv's double-quoted form: newlines and quotes escaped
        yield f"{name}={json.dumps(secrets[name])}"


def _write(path: Path, text: str, *, private: bool) -> None:
    """Written whole or not at all: a temporary file beside it, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    mode = stat.S_IRUSR | stat.S_IWUSR if private else 0o644
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, mode)  # an old temporary file keeps its mode through O_CREAT
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load_shown(path: Path) -> dict[str, Any] | None:
    """A configuration file's document without its secrets; None when it cannot be read."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return split_secrets(loaded)[0] if isinstance(loaded, dict) else None


class ProjectConfigs:
    def __init__(self, layout: ProjectLayout) -> None:
        self.layout = layout
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, tenant_id: str) -> asyncio.Lock:
        return self._locks.setdefault(tenant_id, asyncio.Lock())

    async def get(self, principal: Principal) -> dict[str, Any]:
        found = await asyncio.to_thread(self.read, principal.tenant_id)
        if found is None:
            raise NotFound("Configuration file does not exist", reason="CONFIG_NOT_FOUND")
        return found

    def read(self, tenant_id: str) -> dict[str, Any] | None:
        """The tenant's configuration without secrets; None when none was saved."""
        path = self.layout.config_file(tenant_id)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise Internal(
                "Failed to load configuration",
                reason="CONFIG_UNREADABLE",
                details={"text": str(error)},
            ) from None
        if not isinstance(loaded, dict):
            raise Internal("Failed to load configuration", reason="CONFIG_UNREADABLE")
        # secrets written there by hand are still never shown
        return split_secrets(loaded)[0]

    async def save(self, principal: Principal, document: dict[str, Any]) -> SavedConfig:
        async with self._lock(principal.tenant_id):
            return await asyncio.to_thread(self._save, principal.tenant_id, document)

    def _save(self, tenant_id: str, document: dict[str, Any]) -> SavedConfig:
        shown, sent = split_secrets(document)
        env_path = self.layout.env_file(tenant_id)
        secrets = read_env(env_path)
        for name, value in sent.items():
            if value:
                secrets[name] = value
            else:
                secrets.pop(name, None)
        config_path = self.layout.config_file(tenant_id)
        # `.env` first: the config's watchers must never see a config whose secrets are old
        _write(env_path, "\n".join(_env_lines(secrets)) + "\n", private=True)
        _write(
            config_path,
            yaml.safe_dump(shown, sort_keys=False, allow_unicode=True),
            private=False,
        )
        return SavedConfig(
            self.layout.shown(config_path), self.layout.shown(env_path), len(secrets)
        )
