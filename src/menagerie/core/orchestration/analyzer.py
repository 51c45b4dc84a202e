"""`code_analyzer`: a directory (or file) of the caller's workspace analysed inside that
workspace's sandbox: `security` with bandit, `quality` with ruff, `performance` (cyclomatic
complexity) with radon, or `all` three.

The analysers are this server's own pinned dependencies. They run with the server's Python
inside the sandbox: its virtual environment and its interpreter's prefix are bound read-only
at the same paths (as installed MCP servers are), so the analysed code is only read by them,
as the sandbox's user, with the sandbox's limits and no network.
"""

from __future__ import annotations

import json
import posixpath
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from menagerie.core.errors import Conflict, Invalid, NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.orchestration.models import ToolCall, ToolDescription, ToolParameter
from menagerie.core.orchestration.tools import ToolFailed, check
from menagerie.core.sandboxes import paths
from menagerie.core.sandboxes.service import SandboxService

TYPES = ("security", "performance", "quality", "all")
RUN_TIMEOUT_S = 600.0  # one analyser; the orchestration's own timeout bounds the whole
SEVERITIES = ("high", "medium", "low")
# ruff's rules: pycodestyle errors and warnings, pyflakes, bugbear
RUFF_SELECT = "E,W,F,B"
RUFF_HIGH = ("E9", "F63", "F7", "F82")  # syntax errors, undefined names
RUFF_MEDIUM = ("F", "B")
COMPLEXITY_FROM = 11  # radon's rank C and worse: "moderate" complexity or more
RANKS = {"C": "low", "D": "medium", "E": "high", "F": "high"}

DESCRIPTION = ToolDescription(
    name="code_analyzer",
    title="Code Analysis",
    description="Analyze code for security, performance, and quality issues",
    category="analysis",
    parameters=(
        ToolParameter("target", "string", "Target directory or file", True),
        ToolParameter("type", "string", "Analysis type", True, TYPES),
        ToolParameter(
            "workspace_id",
            "string",
            "The workspace (sandbox) whose files are analysed; the caller's newest running "
            "one when left out",
            False,
        ),
    ),
)


def _python() -> tuple[str, tuple[Path, ...]]:
    """The server's interpreter and what the sandbox must see of it."""
    venv = Path(sys.prefix).resolve()
    base = Path(sys.base_prefix).resolve()
    return f"{sys.prefix}/bin/python", tuple(dict.fromkeys((venv, base)))


def _relative(name: str) -> str:
    return posixpath.normpath(name).removeprefix("./")


def bandit_findings(output: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for item in output.get("results", []):
        found.append(
            {
                "file": _relative(item.get("filename", "")),
                "line": int(item.get("line_number") or 0),
                "severity": str(item.get("issue_severity", "low")).lower(),
                "type": str(item.get("test_name", "issue")).replace("_", " ").capitalize(),
                "description": item.get("issue_text", ""),
                "category": "security",
                "tool": "bandit",
                "rule": item.get("test_id"),
                "confidence": str(item.get("issue_confidence", "")).lower() or None,
            }
        )
    return found


def _ruff_severity(code: str) -> str:
    if code.startswith(RUFF_HIGH):
        return "high"
    return "medium" if code.startswith(RUFF_MEDIUM) else "low"


def ruff_findings(output: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in output:
        code = str(item.get("code") or "syntax-error")
        slug = str(item.get("url") or "").rstrip("/").rsplit("/", 1)[-1]
        found.append(
            {
                "file": _relative(item.get("filename", "")),
                "line": int((item.get("location") or {}).get("row") or 0),
                "severity": "high" if item.get("code") is None else _ruff_severity(code),
                "type": slug.replace("-", " ").capitalize() if slug else code,
                "description": item.get("message", ""),
                "category": "quality",
                "tool": "ruff",
                "rule": item.get("code"),
            }
        )
    return found


def radon_findings(output: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    found, scores = [], []
    for name, blocks in output.items():
        if not isinstance(blocks, list):
            continue  # {"error": …}: a file radon could not parse
        for block in blocks:
            if block.get("type") == "class":
                continue  # its methods are listed on their own
            complexity = int(block.get("complexity") or 0)
            scores.append(complexity)
            if complexity < COMPLEXITY_FROM:
                continue
            rank = str(block.get("rank", "C"))
            label = f"{block.get('classname')}.{block['name']}" if block.get("classname") else ""
            found.append(
                {
                    "file": _relative(name),
                    "line": int(block.get("lineno") or 0),
                    "severity": RANKS.get(rank, "low"),
                    "type": "High cyclomatic complexity",
                    "description": f"{block.get('type', 'function')} "
                    f"{label or block.get('name')} has cyclomatic complexity {complexity} "
                    f"(rank {rank})",
                    "category": "performance",
                    "tool": "radon",
                    "rule": f"CC-{rank}",
                }
            )
    metrics = {
        "blocks": len(scores),
        "average_complexity": round(sum(scores) / len(scores), 2) if scores else 0.0,
        "max_complexity": max(scores, default=0),
    }
    return found, metrics


def summary(findings: Sequence[dict[str, Any]]) -> dict[str, int]:
    counts = {severity: 0 for severity in SEVERITIES}
    for finding in findings:
        severity = finding["severity"] if finding["severity"] in counts else "low"
        counts[severity] += 1
    return {
        "total_issues": len(findings),
        "high_severity": counts["high"],
        "medium_severity": counts["medium"],
        "low_severity": counts["low"],
    }


class CodeAnalyzer:
    description = DESCRIPTION

    def __init__(self, sandboxes: SandboxService) -> None:
        self._sandboxes = sandboxes

    async def prepare(
        self,
        principal: Principal,
        parameters: dict[str, Any],
        *,
        step: int | None,
        earlier: Sequence[int],
    ) -> dict[str, Any]:
        check(DESCRIPTION, parameters)
        workspace_id = parameters.get("workspace_id")
        try:
            if workspace_id is not None:
                sandbox = await self._sandboxes.get(principal, workspace_id)
            else:
                running, _ = await self._sandboxes.list(principal, status="running", limit=1)
                if not running:
                    raise Invalid(
                        "code_analyzer needs a running workspace: start one, or name it",
                        field="workspace_id",
                        reason="NO_WORKSPACE",
                    )
                sandbox = running[0]
        except NotFound:
            raise Invalid(
                f"workspace {workspace_id} not found",
                field="workspace_id",
                received=workspace_id,
                reason="WORKSPACE_NOT_FOUND",
            ) from None
        if sandbox.status != "running":
            raise Invalid(
                f"workspace {sandbox.id} is {sandbox.status}: start it first",
                field="workspace_id",
                received=sandbox.id,
                reason="WORKSPACE_NOT_RUNNING",
            )
        root = sandbox.config.working_directory
        parts = paths.inside(parameters["target"], mount_point=root, field="target")
        target = "/".join(parts) or "."
        found = await self._sandboxes.run_program(
            principal, sandbox.id, ["/usr/bin/test", "-e", target], timeout_s=10
        )
        if found.exit_code != 0:
            raise Invalid(
                f"target {parameters['target']!r} is not in workspace {sandbox.id}",
                field="target",
                received=parameters["target"],
                reason="TARGET_NOT_FOUND",
            )
        return {"target": target, "type": parameters["type"], "workspace_id": sandbox.id}

    def after(self, parameters: dict[str, Any]) -> tuple[int, ...]:
        return ()

    async def run(self, call: ToolCall) -> dict[str, Any]:
        kind, target = call.parameters["type"], call.parameters["target"]
        kinds = ("security", "quality", "performance") if kind == "all" else (kind,)
        findings: list[dict[str, Any]] = []
        metrics: dict[str, Any] = {}
        for index, each in enumerate(kinds):
            if each == "security":
                findings += bandit_findings(await self._json(call, "bandit", target))
            elif each == "quality":
                findings += ruff_findings(await self._json(call, "ruff", target))
            else:
                found, metrics = radon_findings(await self._json(call, "radon", target))
                findings += found
            await call.report(int(100 * (index + 1) / (len(kinds) + 1)))
        sandbox = await self._sandboxes.get(call.principal, call.parameters["workspace_id"])
        root = sandbox.config.working_directory.rstrip("/") + "/"
        for finding in findings:  # ruff names files by their absolute path inside
            finding["file"] = finding["file"].removeprefix(root)
        findings.sort(key=lambda f: (SEVERITIES.index(f["severity"]), f["file"], f["line"]))
        result: dict[str, Any] = {
            "workspace_id": call.parameters["workspace_id"],
            "target": target,
            "type": kind,
            "vulnerabilities": [f for f in findings if f["category"] == "security"],
            "findings": findings,
            "summary": summary(findings),
        }
        if metrics:
            result["complexity"] = metrics
        return result

    async def _json(self, call: ToolCall, analyser: str, target: str) -> Any:
        python, read_only = _python()
        argv = {
            "bandit": [python, "-m", "bandit", "-r", "-f", "json", "-q", "--", target],
            "ruff": [
                python,
                "-m",
                "ruff",
                "check",
                "--isolated",
                "--no-cache",
                "--exit-zero",
                "--select",
                RUFF_SELECT,
                "--output-format",
                "json",
                "--",
                target,
            ],
            "radon": [python, "-m", "radon", "cc", "-j", "-s", "--", target],
        }[analyser]
        try:
            done = await self._sandboxes.run_program(
                call.principal,
                call.parameters["workspace_id"],
                argv,
                timeout_s=RUN_TIMEOUT_S,
                read_only=read_only,
            )
        except (Conflict, NotFound) as error:
            raise ToolFailed(f"the workspace cannot run {analyser}: {error.message}") from None
        if done.timed_out:
            raise ToolFailed(f"{analyser} ran past {RUN_TIMEOUT_S:.0f} s")
        try:
            return json.loads(done.stdout)
        except ValueError:
            tail = (done.stderr or done.stdout).strip()[-500:]
            raise ToolFailed(
                f"{analyser} failed (exit {done.exit_code}): {tail}",
                details={"analyser": analyser, "exit_code": done.exit_code},
            ) from None
