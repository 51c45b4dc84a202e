"""Reading the published API references in `../shared/seeds/` as data.

Each seed writes its endpoints its own way (`#### POST` headings, `**Endpoint:**` lines,
`### GET /x` headings), shows JSON examples in fenced blocks or lists fields as `- name: type`, and
tables its error codes. This module finds all of it, so that the contract tests hold the app
to the seeds themselves rather than to a copy of them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

# the references as published beside the checkout, when it is there; else the copy kept in
# the repository, so that a clone alone still runs its contract tests
PUBLISHED = Path(__file__).resolve().parents[3] / "shared" / "seeds"
COPY = Path(__file__).resolve().parent / "references"
SEEDS = PUBLISHED if PUBLISHED.is_dir() else COPY
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_ENDPOINT = re.compile(
    r"^(?:(#{2,6})\s+|\*\*Endpoint:\*\*\s+)`?(GET|POST|PUT|PATCH|DELETE)`?\s+`?(/[^\s`]*)`?"
)
_LABEL = re.compile(r"^(?:\*\*)?([A-Z][A-Za-z ()/0-9-]*?)(?::\*\*|\*\*:|:)\s*$")
_FIELD = re.compile(r"^-\s+`?([A-Za-z_][A-Za-z0-9_.]*)`?\s*:\s*([A-Za-z]+)")
# a code in backticks, as a `- CODE: meaning` bullet, or alone in a table's first column
_CODE = re.compile(
    r"`([A-Z][A-Z0-9_]{2,})`|^-\s+([A-Z][A-Z0-9_]{2,}):|^\|\s*([A-Z][A-Z0-9_]{2,})\s*\|", re.M
)
# the seeds' field-list type words, as JSON types
TYPE_WORDS = {
    "string": "string",
    "timestamp": "string",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "object": "object",
}


@dataclass
class Example:
    """One example in an endpoint's section: a JSON block, or a `- field: type` list."""

    label: str  # the line that introduces it ("Request Body", "Response", "Error Response" …)
    text: str
    value: Any = None  # the parsed JSON, when it parses
    fields: dict[str, str] = field(default_factory=dict)  # field-list form: name -> JSON type

    @property
    def is_request(self) -> bool:
        return "request" in self.label.lower()

    @property
    def is_error(self) -> bool:
        return "error" in self.label.lower()

    @property
    def is_response(self) -> bool:
        return "response" in self.label.lower() and not self.is_error


@dataclass
class Endpoint:
    method: str
    path: str  # as the seed writes it, query string and all
    headings: tuple[str, ...]  # the headings above it, outermost first
    line: int
    text: str = ""
    examples: list[Example] = field(default_factory=list)

    @property
    def route(self) -> str:
        return normalize(self.path)

    def first(self, kind: str) -> Example | None:
        for example in self.examples:
            if getattr(example, f"is_{kind}"):
                return example
        return None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def normalize(path: str) -> str:
    """`/api/x/[id]`, `/api/x/:id`, `/api/x/{id}?q=1` -> `/api/x/{}`."""
    path = path.split("?", 1)[0].rstrip("/") or "/"
    path = re.sub(r"\[[^\]/]+\]|\{[^}/]+\}|:[A-Za-z_][A-Za-z0-9_]*", "{}", path)
    return path


def seed_path(number: str) -> Path:
    (found,) = SEEDS.glob(f"{number}_*.txt")
    return found


@cache
def read(number: str) -> str:
    return seed_path(number).read_text(encoding="utf-8")


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    # tolerate the seeds' `// comments`, trailing commas and `...` placeholders
    cleaned = re.sub(r"(?m)\s+//.*$", "", text)
    cleaned = re.sub(r",\s*\.\.\.\s*", "", cleaned)
    cleaned = re.sub(r",(\s*[}\]])", r"\1", cleaned)
    try:
        return json.loads(cleaned)
    except ValueError:
        return None


@cache
def endpoints(number: str) -> tuple[Endpoint, ...]:
    lines = read(number).splitlines()
    found: list[Endpoint] = []
    headings: list[tuple[int, str]] = []
    current: Endpoint | None = None
    level = 0  # the heading level that owns the current endpoint
    label = ""
    fence: list[str] | None = None
    fence_label = ""
    field_list: Example | None = None
    for number_, line in enumerate(lines, 1):
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith("```"):
                text = "\n".join(fence)
                if current is not None:
                    current.examples.append(Example(fence_label, text, _parse_json(text)))
                fence = None
            else:
                fence.append(line)
            continue
        if stripped.startswith("```"):
            fence, fence_label, field_list = [], label, None
            continue
        heading = _HEADING.match(line)
        endpoint = _ENDPOINT.match(line)
        if heading and not endpoint:
            depth = len(heading.group(1))
            if current is not None and depth <= level:
                current = None
            headings = [h for h in headings if h[0] < depth] + [(depth, heading.group(2))]
            label = heading.group(2)
            field_list = None
            continue
        if endpoint:
            hashes, method, path = endpoint.groups()
            if hashes:
                level = len(hashes)
                headings = [h for h in headings if h[0] < level]
            else:
                level = headings[-1][0] if headings else 2
            current = Endpoint(method, path, tuple(h[1] for h in headings), number_)
            found.append(current)
            label, field_list = "", None
            continue
        if current is None:
            continue
        current.text += line + "\n"
        labelled = _LABEL.match(stripped)
        if labelled:
            label, field_list = labelled.group(1), None
            continue
        listed = _FIELD.match(stripped)
        if listed and label:
            kind = TYPE_WORDS.get(listed.group(2).lower())
            if kind is None:
                continue
            if field_list is None:
                field_list = Example(label, "")
                current.examples.append(field_list)
            field_list.text += stripped + "\n"
            field_list.fields[listed.group(1)] = kind
    return tuple(found)


def section(number: str, title: str) -> str:
    """The text under the first heading that contains `title`, up to the next heading of
    the same or a higher level."""
    lines = read(number).splitlines()
    out: list[str] = []
    level = 0
    for line in lines:
        heading = _HEADING.match(line)
        if level:
            if heading and len(heading.group(1)) <= level:
                break
            out.append(line)
        elif heading and title.lower() in heading.group(2).lower():
            level = len(heading.group(1))
    return "\n".join(out)


def error_codes(number: str, *titles: str) -> frozenset[str]:
    """Every `UPPER_CASE` code listed under the headings named `titles`."""
    codes: set[str] = set()
    for title in titles:
        text = section(number, title)
        assert text, f"seed {number} has no section {title!r}"
        codes |= {next(g for g in groups if g) for groups in _CODE.findall(text)}
    return frozenset(codes)
