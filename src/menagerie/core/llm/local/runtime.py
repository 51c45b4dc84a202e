"""llama.cpp's OpenAI-compatible server in a virtual environment of its own, built once.

`llama-cpp-python` is published as source only, so the first start compiles llama.cpp (a few
minutes on two cores; it needs a C/C++ compiler, and pip fetches CMake itself). That happens
in the background: the server answers at once, and the offline model says the local one is
coming. As with MCP packages, a lock file makes one process build while the others wait, a
marker file says the environment is complete (a crash halfway leaves a build that the next
start redoes), and the progress is written where `menagerie doctor` and other processes read
it. Progress is the compiler's own count of its steps; the time left is extrapolated from
the time those steps took, never a fixed guess.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import re
import shutil
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from menagerie.core.filelock import is_locked, locked
from menagerie.core.processes import signal_group

log = logging.getLogger(__name__)

REQUIREMENT = "llama-cpp-python[server]==0.3.36"
# a portable build (no -march=native: the CPU of the machine that built it may not be the one
# that runs it, and native AVX-512 kernels crashed on multi-token batches here); only the
# library, none of llama.cpp's tools, examples or tests
CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF "
    "-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF"
)
READY_MARKER = ".menagerie-ready"
STATUS_FILE = "status.json"
BUILD_TIMEOUT_S = 3600.0
OUTPUT_TAIL = 30
_STEP = re.compile(r"\[(\d+)/(\d+)\]")
_COMPILERS = ("cc", "gcc", "clang")

RuntimeState = Literal["absent", "preparing", "ready", "failed", "unsupported"]


@dataclass(frozen=True, slots=True)
class RuntimeStatus:
    """Where the build stands; `eta` is extrapolated from the measured pace, or None."""

    state: RuntimeState
    step: str
    progress: int  # 0..100
    started_at: str | None = None  # ISO times: the status travels between processes as JSON
    eta: str | None = None
    error: str | None = None
    build_s: float | None = None  # how long the finished build took

    def describe(self) -> str:
        """One sentence for people: doctor, health and the offline model's notice."""
        if self.state == "ready":
            return "ready"
        if self.state in ("failed", "unsupported"):
            return f"{self.step}: {self.error}" if self.error else self.step
        if self.state == "absent":
            return "not prepared yet"
        text = f"{self.step} ({self.progress}%)"
        if self.eta is not None:
            left = (datetime.fromisoformat(self.eta) - datetime.now(UTC)).total_seconds()
            minutes = max(1, round(left / 60))
            at = datetime.fromisoformat(self.eta).strftime("%H:%M UTC")
            text += f", ready in about {minutes} minute{'s' if minutes != 1 else ''} ({at})"
        return text


class LocalRuntime:
    """The environment that runs llama.cpp's server, under `root`."""

    def __init__(
        self,
        root: Path,
        *,
        index_url: str | None = None,
        on_change: Callable[[RuntimeStatus], None] | None = None,
    ) -> None:
        self.root = root
        self.venv = root / "venv"
        self.index_url = index_url
        self.on_change = on_change
        self._status: RuntimeStatus | None = None
        self._ready = False

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def ready(self) -> bool:
        # asked on every routed call: once the marker is seen, it is not looked for again
        if not self._ready:
            self._ready = (self.venv / READY_MARKER).is_file()
        return self._ready

    def status(self) -> RuntimeStatus:
        """This process's view, else what the process building it last wrote."""
        if self.ready:
            return RuntimeStatus("ready", "ready", 100, build_s=self._build_seconds())
        if self._status is not None:
            return self._status
        written = self._read_status()
        if written is not None and (written.state != "preparing" or is_locked(self.root)):
            return written
        return RuntimeStatus("absent", "not prepared yet", 0)

    @staticmethod
    def preflight() -> str | None:
        """Why this machine cannot build llama.cpp, or None when it can."""
        if not any(shutil.which(name) for name in _COMPILERS):
            return (
                "no C compiler found (cc, gcc or clang): building llama.cpp needs one "
                "(Debian/Ubuntu: apt install build-essential; macOS: xcode-select --install)"
            )
        return None

    async def prepare(self) -> RuntimeStatus:
        """Build the environment unless it is there; the final status, never an exception."""
        problem = self.preflight()
        if problem is not None and not self.ready:
            return self._set(
                RuntimeStatus("unsupported", "cannot build llama.cpp", 0, error=problem)
            )
        self._set(RuntimeStatus("preparing", "waiting for another process's build", 0))
        async with locked(self.root):
            if self.ready:
                self._status = None
                return self.status()
            started = datetime.now(UTC)
            try:
                await self._build(started)
            except asyncio.CancelledError:
                self._set(RuntimeStatus("absent", "build interrupted", 0))
                raise
            except RuntimeError as exc:
                log.warning("the local model's runtime could not be built: %s", exc)
                return self._set(
                    RuntimeStatus(
                        "failed", "building llama.cpp failed", 0, iso(started), error=str(exc)
                    )
                )
            seconds = round((datetime.now(UTC) - started).total_seconds(), 1)
            (self.venv / READY_MARKER).write_text(
                json.dumps({"requirement": REQUIREMENT, "build_s": seconds}), encoding="utf-8"
            )
            self._status = None
            log.info("the local model's runtime is ready (built in %.0fs)", seconds)
            status = self.status()
            self._publish(status)
            return status

    async def _build(self, started: datetime) -> None:
        if self.venv.exists():
            shutil.rmtree(self.venv, ignore_errors=True)
        self._set(RuntimeStatus("preparing", "creating a virtual environment", 2, iso(started)))
        own_pip = importlib.util.find_spec("pip") is not None
        await self._run(
            [sys.executable, "-m", "venv", *(["--without-pip"] if own_pip else []), self.venv],
            started,
        )
        pip = (
            [sys.executable, "-m", "pip", "--python", self.python]
            if own_pip
            else [self.python, "-m", "pip"]
        )
        index = ["--index-url", self.index_url] if self.index_url else []
        self._set(RuntimeStatus("preparing", f"downloading {REQUIREMENT}", 5, iso(started)))
        await self._run(
            [*pip, "install", "--verbose", "--disable-pip-version-check", "--no-input",
             *index, REQUIREMENT],
            started,
        )  # fmt: skip

    async def _run(self, command: list[str | Path], started: datetime) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("MENAGERIE_")}
        env["CMAKE_ARGS"] = CMAKE_ARGS
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        process = await asyncio.create_subprocess_exec(
            *map(str, command),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,  # pip's compilers are its children: stopped as one group
        )
        tail: deque[str] = deque(maxlen=OUTPUT_TAIL)
        compile_started: float | None = None
        try:
            async with asyncio.timeout(BUILD_TIMEOUT_S):
                assert process.stdout is not None
                while line := await process.stdout.readline():
                    text = line.decode("utf-8", "replace").rstrip()
                    tail.append(text)
                    found = _STEP.search(text)
                    if found is None:
                        continue
                    done, total = int(found.group(1)), int(found.group(2))
                    now = time.monotonic()
                    compile_started = compile_started or now
                    self._set(_compiling(done, total, now - compile_started, started))
                await process.wait()
        except (TimeoutError, asyncio.CancelledError):
            signal_group(process, signal.SIGKILL)
            await process.wait()
            raise
        if process.returncode != 0:
            raise RuntimeError(
                f"{Path(str(command[0])).name} exited with {process.returncode}: "
                + " | ".join(line for line in tail if line.strip())[-1500:]
            )

    def _set(self, status: RuntimeStatus) -> RuntimeStatus:
        previous = self._status
        self._status = status
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / STATUS_FILE).write_text(json.dumps(asdict(status)), encoding="utf-8")
        except OSError as exc:
            log.debug("could not write the runtime's status: %s", exc)
        if previous is None or (previous.state, previous.progress) != (
            status.state,
            status.progress,
        ):
            self._publish(status)
        return status

    def _publish(self, status: RuntimeStatus) -> None:
        if self.on_change is not None:
            self.on_change(status)

    def _read_status(self) -> RuntimeStatus | None:
        try:
            return RuntimeStatus(**json.loads((self.root / STATUS_FILE).read_text("utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def _build_seconds(self) -> float | None:
        try:
            value = json.loads((self.venv / READY_MARKER).read_text("utf-8")).get("build_s")
        except (OSError, ValueError, AttributeError):
            return None
        return float(value) if isinstance(value, int | float) else None


def _compiling(done: int, total: int, elapsed_s: float, started: datetime) -> RuntimeStatus:
    """Compilation counts for 10..95 % of the progress; the rest is download and install."""
    fraction = done / total if total else 0.0
    status = RuntimeStatus(
        "preparing", f"compiling llama.cpp, step {done} of {total}", 10 + int(85 * fraction),
        iso(started),
    )  # fmt: skip
    if done >= 5 and elapsed_s > 0:
        left_s = elapsed_s / done * (total - done)
        status = replace(status, eta=iso(datetime.now(UTC) + timedelta(seconds=left_s + 15)))
    return status


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
