"""`make contract`: per seed, how many documented routes are served and which are pending,
and every route whose examples do not fit its wire model yet."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from tests.contract import harness, seeds
from tests.contract.specs import CONTRACTS


def main() -> int:
    console = Console()
    summary = Table(title="Seed contracts")
    for column in ("seed", "dialect", "documented", "served", "pending", "mismatched"):
        summary.add_column(column, justify="right" if column != "dialect" else "left")
    failing = 0
    for contract in CONTRACTS:
        endpoints = seeds.endpoints(contract.seed)
        served = harness.served(contract.dialect)
        keys = [contract.key(e) for e in endpoints]
        pending = [k for k in keys if k in contract.pending]
        mismatched: list[str] = []
        for endpoint in endpoints:
            key = contract.key(endpoint)
            if key in contract.pending or key in contract.not_json or key not in served:
                continue
            problems: list[str] = []
            for example in endpoint.examples:
                if example.value is None and not example.fields:
                    continue
                if example.is_error:
                    problems += harness.error_problems(contract, endpoint, example)
                elif example.is_response:
                    problems += harness.response_problems(contract, endpoint, example)
                elif example.is_request:
                    problems += harness.request_problems(contract, endpoint, example)
            if problems:
                mismatched.append(f"{key}: " + "; ".join(problems[:3]))
        failing += len(mismatched)
        summary.add_row(
            contract.seed,
            contract.dialect,
            str(len(keys)),
            str(sum(1 for k in keys if k in served)),
            str(len(pending)),
            str(len(mismatched)),
        )
        for line in mismatched:
            console.print(f"[yellow]{contract.dialect}[/] {line}", highlight=False)
        for key in pending:
            console.print(f"[dim]{contract.dialect} pending {key} ({contract.pending[key]})[/]")
    console.print(summary)
    return 1 if failing else 0


if __name__ == "__main__":
    raise SystemExit(main())
