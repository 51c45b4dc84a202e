"""Run every benchmark in turn and print its table: `python -m bench [NAME ...]`."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType, ModuleType

from rich.console import Console
from rich.table import Table

from bench import (
    chat,
    gateway,
    instrumentation,
    local_model,
    mcp_calls,
    memory,
    middleware,
    recall,
    runs,
    sandbox,
)

# A benchmark's servers do not build the embedded model's runtime in their temporary data
# directories; the `local` benchmark turns it on, over the runtime the tests build.
os.environ.setdefault("MENAGERIE_LOCAL_MODEL", "off")

BENCHMARKS: dict[str, ModuleType] = {
    "middleware": middleware,
    "gateway": gateway,
    "instrumentation": instrumentation,
    "memory": memory,
    "recall": recall,
    "chat": chat,
    "local": local_model,
    "mcp": mcp_calls,
    "sandbox": sandbox,
    "runs": runs,
}


def _exit_on_sigterm(signum: int, _: FrameType | None) -> None:
    # an exception, so that every benchmark's cleanup (stopping its servers) runs
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    console = Console()
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        console.print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    for name in argv or list(BENCHMARKS):
        module = BENCHMARKS[name]
        runner: Callable[[], Table] = module.run
        console.print(f"[bold]{module.TITLE}[/bold] ({name}) ...")
        started = time.perf_counter()
        table = runner()
        console.print(table)
        console.print(f"[dim]{name}: {time.perf_counter() - started:.1f} s[/dim]\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
