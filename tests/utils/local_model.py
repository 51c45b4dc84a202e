"""The embedded model in tests: one llama.cpp runtime per checkout, built once, shared.

Building llama.cpp takes minutes, so every test that needs the real local model uses the
runtime under `.cache/local-model` (or MENAGERIE_TEST_LOCAL_RUNTIME_DIR). The first pytest
process that collects such a test starts `menagerie local-model` in the background, so the
build overlaps the rest of the suite; the tests wait for its marker (the runtime's file lock
makes every other starter wait and then find it built).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from menagerie.core.llm.local.runtime import LocalRuntime
from menagerie.settings import Settings
from tests.utils.databases import IN_CI

RUNTIME_DIR = Path(
    os.environ.get("MENAGERIE_TEST_LOCAL_RUNTIME_DIR")
    or Path(__file__).resolve().parents[2] / ".cache" / "local-model"
)
BUILD_WAIT_S = 1800.0  # a cold build on a busy 2-core machine
_started = False


def start_build() -> None:
    """Start building the shared runtime in the background, once per process, unless built."""
    global _started
    if _started or LocalRuntime(RUNTIME_DIR).ready or LocalRuntime.preflight() is not None:
        return
    _started = True
    RUNTIME_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MENAGERIE_LOCAL_MODEL": "auto"}
    env["MENAGERIE_LOCAL_RUNTIME_DIR"] = str(RUNTIME_DIR)
    with (RUNTIME_DIR / "build.log").open("a") as log:
        subprocess.Popen(
            [str(Path(sys.executable).parent / "menagerie"), "local-model"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # outlives a test that is cancelled; the lock guards it
        )


async def wait_for_runtime() -> None:
    """Wait until the shared runtime is built; skip (fail under CI) when it cannot be."""
    problem = LocalRuntime.preflight()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"the local model is required under CI: {problem}")
        pytest.skip(problem)
    start_build()
    runtime = LocalRuntime(RUNTIME_DIR)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUILD_WAIT_S
    while not runtime.ready:
        status = runtime.status()
        if status.state in ("failed", "unsupported"):
            pytest.fail(f"the local model's runtime could not be built: {status.describe()}")
        if loop.time() > deadline:
            pytest.fail(f"the local model's runtime was not built in time: {status.describe()}")
        await asyncio.sleep(1.0)


def local_settings(data_dir: Path, database_url: str, **extra: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        master_key="test-master-key-0123456789abcdef",
        dev_mode=False,
        local_model="auto",
        local_runtime_dir=RUNTIME_DIR,
        _env_file=None,
        **extra,  # type: ignore[arg-type]
    )
