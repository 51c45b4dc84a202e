"""Page bounds every list call checks the same way."""

from __future__ import annotations

from menagerie.core.errors import Invalid

MAX_PAGE = 200
# far past any real list, and far inside the 64-bit integers every database takes
MAX_OFFSET = 1_000_000_000


def check_page(limit: int, offset: int = 0, maximum: int = MAX_PAGE) -> None:
    if not 1 <= limit <= maximum:
        raise Invalid(
            f"limit must be between 1 and {maximum}",
            field="limit",
            received=limit,
            expected=f"1-{maximum}",
        )
    if not 0 <= offset <= MAX_OFFSET:
        raise Invalid(
            f"offset must be between 0 and {MAX_OFFSET}",
            field="offset",
            received=offset,
            expected=f"0-{MAX_OFFSET}",
        )
