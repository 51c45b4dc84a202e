"""Run every benchmark in turn and print its table: `python -m bench [NAME ...]`.

Without names it runs every benchmark but the opt-in ones (`OPT_IN`: `peers` installs a
third-party gateway first), which run only when named.

A benchmark that fails (its requests failed, or it raised) is reported in red with its name;
the others still run, and the exit status is 1 when any failed.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from types import FrameType, ModuleType

from rich.console import Console
from rich.table import Table

from bench.checks import BenchmarkFailed

# A benchmark's servers do not build the embedded model's runtime in their temporary data
# directories; the `local` benchmark turns it on, over the runtime the tests build.
os.environ.setdefault("MENAGERIE_LOCAL_MODEL", "off")


class _Benchmarks(Mapping[str, ModuleType]):
    """Each benchmark's module, imported when it is first asked for: most import Menagerie
    only in the servers they start, so `python -m bench middleware` need not import it."""

    def __init__(self, modules: dict[str, str]) -> None:
        self._modules = modules

    def __getitem__(self, name: str) -> ModuleType:
        return importlib.import_module(self._modules[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


BENCHMARKS: Mapping[str, ModuleType] = _Benchmarks(
    {
        "middleware": "bench.middleware",
        "gateway": "bench.gateway",
        "instrumentation": "bench.instrumentation",
        "memory": "bench.memory",
        "recall": "bench.recall",
        "chat": "bench.chat",
        "local": "bench.local_model",
        "mcp": "bench.mcp_calls",
        "sandbox": "bench.sandbox",
        "runs": "bench.runs",
        "console": "bench.console",
        "soak": "bench.soak",
        "peers": "bench.peers",
    }
)
# named only: `make bench-peers` (LiteLLM's proxy beside the gateway, installed on first use)
OPT_IN = frozenset({"peers"})


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
    failed: list[str] = []
    for name in argv or [name for name in BENCHMARKS if name not in OPT_IN]:
        module = BENCHMARKS[name]
        runner: Callable[[], Table] = module.run
        console.print(f"[bold]{module.TITLE}[/bold] ({name}) ...")
        started = time.perf_counter()
        try:
            table = runner()
        except Exception as exc:
            failed.append(name)
            # requests that failed say what failed; anything else shows where it was raised
            message = str(exc) if isinstance(exc, BenchmarkFailed) else traceback.format_exc()
            console.print(f"[bold red]{name} FAILED[/bold red]", markup=True)
            console.print(message, style="red", markup=False, highlight=False)
        else:
            console.print(table)
        console.print(f"[dim]{name}: {time.perf_counter() - started:.1f} s[/dim]\n")
    if failed:
        console.print(f"[bold red]FAILED: {', '.join(failed)}[/bold red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
