"""The reliability figures of a run, from the JSON files the tests leave in
`MENAGERIE_RELIABILITY_DIR`: `python -m tests.reliability.summary DIR`.

Routes times callers checked by the authorization matrix, kill -9 rounds and writes lost
per engine, fuzz cases run and failures per API. A figure whose file is missing is said to
be missing, never made up.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _load(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / name
    return json.loads(path.read_text()) if path.exists() else None


def lines(folder: Path) -> list[str]:
    out: list[str] = []
    authz = _load(folder, "authz.json")
    if authz:
        out.append(
            f"authorization: {authz['routes']} routes + {authz.get('socket_handlers', 0)} socket "
            f"handlers x {len(authz['callers'])} callers, {authz['checks']} checks, "
            f"{authz['failures']} failures"
        )
    else:
        out.append("authorization: no figures (authz.json missing)")
    for engine in ("sqlite", "postgresql"):
        kill = _load(folder, f"kill9-{engine}.json")
        if kill is None:
            out.append(f"kill -9 ({engine}): no figures")
            continue
        out.append(
            f"kill -9 ({engine}): {kill['rounds']} rounds, {kill['acknowledged']} acknowledged "
            f"writes, {kill['lost']} lost, {kill['duplicated']} duplicated, "
            f"integrity {kill['integrity']}"
        )
    fuzz = [json.loads(p.read_text()) for p in sorted(folder.glob("fuzz-*.json"))]
    if fuzz:
        cases = sum(f["cases"] for f in fuzz)
        failures = sum(f["failures"] for f in fuzz)
        apis = ", ".join(f"{f['dialect']} {f['cases']}" for f in fuzz)
        out.append(f"fuzzing: {cases} cases over {len(fuzz)} APIs ({apis}), {failures} failures")
    else:
        out.append("fuzzing: no figures")
    return out


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "reliability-results")
    print("\n".join(lines(folder)))


if __name__ == "__main__":
    main()
