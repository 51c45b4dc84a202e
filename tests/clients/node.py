"""Running the Node.js scripts in `js/`: each prints one JSON object of what its client saw."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

JS = Path(__file__).parent / "js"
NODE_TIMEOUT_S = 60


async def run_node(script: str, *args: str, env: dict[str, str] | None = None) -> Any:
    """`node js/<script> <args>`; returns the JSON it printed. A non-zero exit fails the test
    with the script's output. Asynchronous, so the server in this event loop keeps serving."""
    node = shutil.which("node")
    assert node is not None, "node is not on PATH"
    process = await asyncio.create_subprocess_exec(
        node,
        str(JS / script),
        *args,
        cwd=JS,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )
    what = f"node {script} {' '.join(args)}"
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=NODE_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{what} ran past {NODE_TIMEOUT_S}s") from None
    stdout, stderr = out.decode(), err.decode()
    assert process.returncode == 0, (
        f"{what} exited {process.returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    )
    try:
        return json.loads(stdout)
    except ValueError:
        raise AssertionError(f"{what} printed no JSON object:\n{stdout}\n{stderr}") from None
