"""How a `local` deployment's process starts: this Python, the agent app's module, and the
server's own settings, so that the process shares its database, keys and models.

The settings travel in one environment variable (JSON, secrets included), read and removed
from the environment by the process at its start: never on a command line, which any user of
the machine can read, and never in a file.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from menagerie.core.deployments.process import Launch
from menagerie.settings import Settings

SETTINGS_VARIABLE = "MENAGERIE_AGENT_SETTINGS"
PARENT_VARIABLE = "MENAGERIE_AGENT_PARENT_PID"


def _revealed(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def settings_document(settings: Settings) -> str:
    """The settings as JSON that `Settings(**json.loads(...))` reads back the same."""
    values = settings.model_dump(mode="python")
    # the process never migrates (the server did) and mounts no dialect at its root
    values.update(migrate_on_start=False, root_dialect=None, data_dir=settings.resolved_data_dir)
    return json.dumps(values, default=_revealed)


def read_settings_document(environment: dict[str, str] | None = None) -> Settings:
    """In the agent's process: its settings, taken out of the environment."""
    environment = os.environ if environment is None else environment
    document = environment.pop(SETTINGS_VARIABLE, None)
    if document is None:
        raise RuntimeError(f"{SETTINGS_VARIABLE} is not set: this process is started by a server")
    return Settings(_env_file=None, **json.loads(document))  # type: ignore[call-arg]


class AgentLauncher:
    """The launch of one NFT's agent process, for a server with these settings."""

    def __init__(self, settings: Settings, module: str) -> None:
        self.module = module
        self._document = settings_document(settings)
        self.logs = settings.resolved_data_dir / "panthers" / "deployments"

    def tail(self, nft_token_id: str) -> list[str]:
        """The end of the process's command line: how a leftover process is recognised."""
        return ["--nft-token-id", nft_token_id]

    def launch(self, nft_token_id: str) -> Launch:
        environment = {
            key: value
            for key, value in os.environ.items()
            # the server's own variables are in the document; the rest (PATH, HOME …) stay
            if not key.startswith("MENAGERIE_")
        }
        environment[SETTINGS_VARIABLE] = self._document
        environment[PARENT_VARIABLE] = str(os.getpid())
        return Launch(
            command=[sys.executable, "-m", self.module, "--fd", "{fd}", *self.tail(nft_token_id)],
            environment=environment,
            log_path=self.logs / nft_token_id / "agent.log",
        )
