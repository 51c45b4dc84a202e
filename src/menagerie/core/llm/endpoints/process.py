"""A model server run as a local process: started on wake, health-checked, stopped on sleep.

The process gets its own process group so that sleep takes down whatever it forked (a server
with worker processes, a shell wrapper), first politely with SIGTERM, then with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import deque

import httpx

from menagerie.core.errors import Invalid
from menagerie.core.llm.endpoints.base import EndpointBackend, EndpointFailure
from menagerie.core.processes import signal_group, stop_group
from menagerie.settings import EndpointSettings

log = logging.getLogger(__name__)

OUTPUT_LINES = 20  # the tail of its output kept to explain a failure


class ProcessBackend(EndpointBackend):
    kind = "process"
    stops_with_server = True

    def __init__(
        self,
        settings: EndpointSettings,
        *,
        stop_grace_s: float = 10.0,
        health_interval_s: float = 0.1,
    ) -> None:
        super().__init__()
        for field, value in (("command", settings.command), ("port", settings.port)):
            if not value:
                raise Invalid(
                    f"endpoint {settings.name!r} of kind 'process' needs a {field}",
                    field=f"llm_endpoints.{settings.name}.{field}",
                    received=value,
                    expected="a command list" if field == "command" else "a TCP port",
                )
        assert settings.port is not None
        self.settings = settings
        self.port: int = settings.port
        self.stop_grace_s = stop_grace_s
        self.health_interval_s = health_interval_s
        self.process: asyncio.subprocess.Process | None = None
        self.output: deque[str] = deque(maxlen=OUTPUT_LINES)
        self._stopping = False
        self._watchers: list[asyncio.Task[None]] = []

    @property
    def url(self) -> str:
        # OpenAI-compatible servers (vLLM, llama.cpp, Ollama, LM Studio) serve under /v1
        return self.settings.base_url or f"http://127.0.0.1:{self.port}/v1"

    @property
    def health_url(self) -> str:
        path = self.settings.health_path
        return f"http://127.0.0.1:{self.port}{path if path.startswith('/') else '/' + path}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def command(self) -> list[str]:
        """The configured command, with `{port}` and `{model}` filled in."""
        return [
            part.replace("{port}", str(self.port)).replace("{model}", self.settings.model)
            for part in self.settings.command
        ]

    async def start(self, timeout_s: float) -> str:
        await self.stop()  # a failed earlier run may have left something behind
        self._stopping = False
        self.output.clear()
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.command(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
            )
        except OSError as exc:
            raise EndpointFailure(f"could not start {self.settings.command[0]!r}: {exc}") from exc
        process = self.process
        log.info("endpoint %s: started pid %s", self.settings.name, process.pid)
        self._watchers = [
            asyncio.create_task(self._drain(process), name=f"endpoint-{self.settings.name}-out"),
            asyncio.create_task(self._watch(process), name=f"endpoint-{self.settings.name}-exit"),
        ]
        try:
            await self._wait_healthy(process, timeout_s)
        except BaseException:
            await self.stop()
            raise
        return self.url

    async def _wait_healthy(self, process: asyncio.subprocess.Process, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        last_problem = "no answer yet"
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            while True:
                if process.returncode is not None:
                    raise EndpointFailure(self._exit_reason(process.returncode, "while starting"))
                try:
                    response = await client.get(self.health_url)
                    if response.is_success:
                        return
                    last_problem = f"health check answered {response.status_code}"
                except httpx.HTTPError as exc:
                    last_problem = f"health check failed: {type(exc).__name__}"
                if loop.time() >= deadline:
                    raise EndpointFailure(
                        f"not healthy at {self.health_url} within {timeout_s:g}s ({last_problem})"
                    )
                await asyncio.sleep(self.health_interval_s)

    async def _drain(self, process: asyncio.subprocess.Process) -> None:
        """Keep reading its output: a full pipe would block the server; the tail explains exits."""
        assert process.stdout is not None
        while line := await process.stdout.readline():
            text = line.decode(errors="replace").rstrip()
            self.output.append(text)
            log.debug("endpoint %s: %s", self.settings.name, text)

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        if self._stopping or process is not self.process:
            return
        # it died on its own: take down anything it left in its group, then say so
        signal_group(process, signal.SIGKILL)
        reason = self._exit_reason(code, "on its own")
        log.warning("endpoint %s: %s", self.settings.name, reason)
        if self.on_exit is not None:
            self.on_exit(reason)

    def _exit_reason(self, code: int, when: str) -> str:
        reason = f"process exited {when} with code {code}"
        if self.output:
            reason += f": {self.output[-1]}"
        return reason

    async def stop(self) -> None:
        process = self.process
        if process is None:
            return
        self._stopping = True
        if not await stop_group(process, self.stop_grace_s):
            log.warning(
                "endpoint %s: pid %s ignored SIGTERM for %gs; killed",
                self.settings.name,
                process.pid,
                self.stop_grace_s,
            )
        for task in self._watchers:
            task.cancel()
        for task in self._watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watchers = []
        self.process = None
        log.info("endpoint %s: stopped pid %s", self.settings.name, process.pid)
