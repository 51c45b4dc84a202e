"""The embedded model as a managed endpoint: llama.cpp's server, woken on demand, slept idle.

It is a process endpoint like any other (same health checks, same process-group stop), with
two differences: its command is known only once the runtime is built, and it refuses to wake
before that, saying how far the build has come.
"""

from __future__ import annotations

from menagerie.core.llm.endpoints.base import EndpointFailure
from menagerie.core.llm.endpoints.process import ProcessBackend
from menagerie.core.llm.local.model import ModelFile
from menagerie.core.llm.local.runtime import LocalRuntime
from menagerie.settings import EndpointSettings

NAME = "local"
HEALTH_PATH = "/v1/models"


class EmbeddedBackend(ProcessBackend):
    kind = "embedded"

    def __init__(
        self,
        settings: EndpointSettings,
        runtime: LocalRuntime,
        *,
        context: int | None,
        threads: int | None = None,
    ) -> None:
        super().__init__(settings)
        self.runtime = runtime
        self.context = context
        self.threads = threads
        self.model: ModelFile | None = None  # known once the metadata is read

    def command(self) -> list[str]:
        assert self.model is not None
        command = [
            str(self.runtime.python), "-m", "llama_cpp.server",
            "--model", self.model.path,
            "--model_alias", self.model.model_id,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.model.context(self.context)),
        ]  # fmt: skip
        if self.threads:
            command += ["--n_threads", str(self.threads)]
        return command

    async def start(self, timeout_s: float) -> str:
        if self.model is None:
            raise EndpointFailure("the local model's metadata is not read yet")
        if not self.runtime.ready:
            raise EndpointFailure(
                f"the local model is not ready: {self.runtime.status().describe()}"
            )
        return await super().start(timeout_s)


def endpoint_settings(port: int, model_id: str, idle_s: float) -> EndpointSettings:
    # the command is placeholder-free and rebuilt by `EmbeddedBackend.command`
    return EndpointSettings(
        name=NAME,
        kind="process",
        model=model_id,
        command=["llama_cpp.server"],
        port=port,
        health_path=HEALTH_PATH,
        idle_timeout_s=idle_s,
        wake_timeout_s=120.0,
    )
