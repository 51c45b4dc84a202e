"""The story board of a workflow status file: a Markdown file with BACKLOG, TODO, IN PROGRESS
and DONE sections, one story per list item (`example-status.md` shows the format):

    ## DONE
    - [CLI-004] WebSocket real-time updates (8 points, milestone 1.7, completed 2025-10-22)

Headings other than the four end a section; prose is ignored. A list item inside a section
that is not a story is an error naming its line, never a story silently lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from menagerie.core.errors import Internal

SECTIONS = {"BACKLOG": "backlog", "TODO": "todo", "IN PROGRESS": "in_progress", "DONE": "done"}
EXAMPLE = Path(__file__).with_name("example-status.md")
MAX_BYTES = 2 * 1024 * 1024
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
_ITEM = re.compile(r"^\s*[-*+]\s+")
_STORY = re.compile(
    r"^\s*[-*+]\s+(?:\[[ xX]\]\s+)?\[(?P<id>[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9]+)\]\s+"
    r"(?P<title>\S.*?)\s+\((?P<points>\d{1,4})\s+points?"
    r"(?:\s*,\s*milestone\s+(?P<milestone>[^,()\s]+))?"
    r"(?:\s*,\s*completed\s+(?P<completed>\d{4}-\d{2}-\d{2}))?\s*\)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Story:
    id: str
    title: str
    points: int
    milestone: str | None = None
    completed_at: str | None = None  # a date, YYYY-MM-DD, as the file gives it


@dataclass(frozen=True, slots=True)
class Board:
    backlog: list[Story] = field(default_factory=list)
    todo: list[Story] = field(default_factory=list)
    in_progress: list[Story] = field(default_factory=list)
    done: list[Story] = field(default_factory=list)

    @property
    def stories(self) -> list[Story]:
        return [*self.backlog, *self.todo, *self.in_progress, *self.done]


def _section(title: str) -> str | None:
    words = re.sub(r"[^A-Z ]+", " ", title.upper()).split()
    return SECTIONS.get(" ".join(words))


def parse_board(text: str, origin: str = "status file") -> Board:
    board = Board()
    current: list[Story] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        heading = _HEADING.match(line)
        if heading:
            name = _section(heading.group(1))
            current = getattr(board, name) if name else None
            continue
        if current is None or not _ITEM.match(line):
            continue
        match = _STORY.match(line)
        if match is None:
            raise Internal(
                "Failed to parse status file",
                reason="STATUS_FILE_MALFORMED",
                details={
                    "text": f"{origin} line {number}: {line.strip()[:200]!r} is not "
                    "'- [ID] Title (N points, milestone M, completed YYYY-MM-DD)'"
                },
            )
        current.append(
            Story(
                id=match["id"],
                title=match["title"],
                points=int(match["points"]),
                milestone=match["milestone"],
                completed_at=match["completed"],
            )
        )
    return board


def read_board(path: Path) -> Board:
    """The board of the file at `path`; an empty board while there is none."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise Internal(
                "Failed to parse status file",
                reason="STATUS_FILE_MALFORMED",
                details={"text": f"{path.name} is larger than {MAX_BYTES} bytes"},
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Board()
    except (OSError, UnicodeDecodeError) as error:
        raise Internal(
            "Failed to parse status file",
            reason="STATUS_FILE_MALFORMED",
            details={"text": f"{path.name}: {type(error).__name__}"},
        ) from None
    return parse_board(text, path.name)
