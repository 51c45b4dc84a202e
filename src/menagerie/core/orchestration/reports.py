"""`report_generator`: an earlier step's result (or, run on its own, the `data` given)
rendered as JSON, HTML or a PDF (fpdf2), stored under the data directory per tenant.

A result with findings (`code_analyzer`'s) becomes a summary and a table of findings,
with recommendations drawn from them when asked; any other result is shown as its JSON.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF

from menagerie.core.clock import iso, utcnow
from menagerie.core.errors import Invalid
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.orchestration.models import ToolCall, ToolDescription, ToolParameter
from menagerie.core.orchestration.tools import ToolFailed, check

FORMATS = ("pdf", "html", "json")
EXTENSIONS = {"pdf": "pdf", "html": "html", "json": "json"}
MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html", "json": "application/json"}
PDF_ROWS = 500  # findings listed in a PDF; the JSON and HTML list all

DESCRIPTION = ToolDescription(
    name="report_generator",
    title="Report Generation",
    description="Generate reports in various formats",
    category="reporting",
    parameters=(
        ToolParameter("format", "string", "Output format", True, FORMATS),
        ToolParameter(
            "include_recommendations", "boolean", "Include recommendations in report", False
        ),
        ToolParameter(
            "source_step",
            "integer",
            "The earlier step whose result is reported; the one just before by default",
            False,
        ),
        ToolParameter("title", "string", "The report's title", False),
        ToolParameter(
            "data", "object", "The result to report when the tool runs on its own", False
        ),
    ),
)


def recommendations(findings: Sequence[dict[str, Any]]) -> list[str]:
    """One line per kind of finding, the most severe kinds first, with where to look."""
    order = {"high": 0, "medium": 1, "low": 2}
    kinds: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        kinds.setdefault(finding["type"], []).append(finding)
    ranked = sorted(
        kinds.items(), key=lambda kv: (min(order.get(f["severity"], 2) for f in kv[1]), kv[0])
    )
    lines = []
    for kind, items in ranked:
        worst = min((f["severity"] for f in items), key=lambda s: order.get(s, 2))
        where = ", ".join(f"{f['file']}:{f['line']}" for f in items[:3])
        more = f" and {len(items) - 3} more" if len(items) > 3 else ""
        lines.append(
            f"{kind} ({worst}, {len(items)} found): review {where}{more}"
            + (f". {items[0]['description']}" if items[0].get("description") else "")
        )
    return lines


def document(
    data: Any, *, title: str, include_recommendations: bool, source_step: int | None
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "title": title,
        "generated_at": iso(utcnow()),
        "source_step": source_step,
    }
    findings = data.get("findings") if isinstance(data, dict) else None
    if isinstance(findings, list):
        doc["summary"] = data.get("summary") or {}
        doc["findings"] = findings
        doc["by_severity"] = dict(Counter(f.get("severity", "low") for f in findings))
        if include_recommendations:
            doc["recommendations"] = recommendations(findings)
    doc["data"] = data
    return doc


def render_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=2, sort_keys=False, default=str).encode()


def render_html(doc: dict[str, Any]) -> bytes:
    e = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{e(doc['title'])}</title></head><body>",
        f"<h1>{e(doc['title'])}</h1><p>Generated {e(doc['generated_at'] or '')}</p>",
    ]
    if "findings" in doc:
        parts.append("<h2>Summary</h2><ul>")
        parts += [f"<li>{e(str(k))}: {e(str(v))}</li>" for k, v in doc["summary"].items()]
        parts.append("</ul><h2>Findings</h2><table border='1'><tr>")
        parts += [f"<th>{h}</th>" for h in ("Severity", "File", "Line", "Type", "Description")]
        parts.append("</tr>")
        for f in doc["findings"]:
            cells = (f.get("severity"), f.get("file"), f.get("line"), f.get("type"))
            parts.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in cells))
            parts.append(f"<td>{e(str(f.get('description', '')))}</td></tr>")
        parts.append("</table>")
        if "recommendations" in doc:
            parts.append("<h2>Recommendations</h2><ol>")
            parts += [f"<li>{e(line)}</li>" for line in doc["recommendations"]]
            parts.append("</ol>")
    else:
        data = json.dumps(doc["data"], indent=2, default=str)
        parts.append(f"<h2>Result</h2><pre>{e(data)}</pre>")
    parts.append("</body></html>")
    return "".join(parts).encode()


def _latin(text: Any) -> str:
    """The PDF's core fonts are Latin-1: anything else is shown as '?'."""
    return str(text).encode("latin-1", "replace").decode("latin-1")


def render_pdf(doc: dict[str, Any]) -> bytes:
    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.epw

    def heading(text: str, size: int = 12) -> None:
        pdf.set_font("Helvetica", "B", size)
        pdf.multi_cell(width, size * 0.6, _latin(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)

    def line(text: str) -> None:
        pdf.multi_cell(width, 5, _latin(text), new_x="LMARGIN", new_y="NEXT")

    heading(doc["title"], 16)
    line(f"Generated {doc['generated_at']}")
    pdf.ln(3)
    if "findings" in doc:
        heading("Summary")
        for key, value in doc["summary"].items():
            line(f"{key.replace('_', ' ')}: {value}")
        pdf.ln(2)
        heading("Findings")
        for f in doc["findings"][:PDF_ROWS]:
            line(
                f"[{str(f.get('severity', '')).upper()}] {f.get('file')}:{f.get('line')} "
                f"{f.get('type')}: {f.get('description', '')}"
            )
        if len(doc["findings"]) > PDF_ROWS:
            line(f"... and {len(doc['findings']) - PDF_ROWS} more (see the JSON report)")
        if "recommendations" in doc:
            pdf.ln(2)
            heading("Recommendations")
            for number, text in enumerate(doc["recommendations"], 1):
                line(f"{number}. {text}")
    else:
        heading("Result")
        pdf.set_font("Courier", "", 8)
        line(json.dumps(doc["data"], indent=2, default=str)[:50_000])
    return bytes(pdf.output())


RENDER = {"json": render_json, "html": render_html, "pdf": render_pdf}


class ReportGenerator:
    description = DESCRIPTION

    def __init__(self, root: Path) -> None:
        self._root = root  # DATA_DIR/reports: one directory per tenant below

    def path_of(self, tenant_id: str, report_id: str, fmt: str) -> Path:
        return self._root / tenant_id / f"{report_id}.{EXTENSIONS[fmt]}"

    async def prepare(
        self,
        principal: Principal,
        parameters: dict[str, Any],
        *,
        step: int | None,
        earlier: Sequence[int],
    ) -> dict[str, Any]:
        check(DESCRIPTION, parameters)
        prepared = dict(parameters)
        if step is None or "data" in parameters:
            if "data" not in parameters:
                raise Invalid(
                    "report_generator run on its own needs the result to report as `data`",
                    field="data",
                    missing=True,
                )
            prepared.pop("source_step", None)
            return prepared
        source = parameters.get("source_step", max(earlier, default=None))
        if source is None or source not in earlier:
            raise Invalid(
                "report_generator reports an earlier step's result: no earlier step "
                + (f"is numbered {source}" if source is not None else "comes before it"),
                field="source_step",
                received=source,
                expected=" | ".join(map(str, earlier)) or "an earlier step",
            )
        prepared["source_step"] = source
        return prepared

    def after(self, parameters: dict[str, Any]) -> tuple[int, ...]:
        source = parameters.get("source_step")
        return (source,) if isinstance(source, int) else ()

    async def run(self, call: ToolCall) -> dict[str, Any]:
        parameters = call.parameters
        source = parameters.get("source_step")
        if "data" in parameters:
            data = parameters["data"]
        elif source in call.results:
            data = call.results[source]
        else:
            raise ToolFailed(f"step {source} left no result to report")
        fmt = parameters["format"]
        title = parameters.get("title") or (
            f"Report of step {source}" if source is not None else "Report"
        )
        doc = document(
            data,
            title=title,
            include_recommendations=bool(parameters.get("include_recommendations", False)),
            source_step=source,
        )
        content = await asyncio.to_thread(RENDER[fmt], doc)
        report_id = new_id("rpt")
        path = self.path_of(call.principal.tenant_id, report_id, fmt)
        await asyncio.to_thread(_write, path, content)
        await call.report(100)
        result: dict[str, Any] = {
            "report_id": report_id,
            "format": fmt,
            "media_type": MEDIA_TYPES[fmt],
            "path": str(path.relative_to(self._root.parent)),
            "size_bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "source_step": source,
            "title": title,
        }
        if "summary" in doc:
            result["summary"] = doc["summary"]
        if "recommendations" in doc:
            result["recommendations"] = doc["recommendations"]
        return result


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_bytes(content)
    partial.replace(path)
