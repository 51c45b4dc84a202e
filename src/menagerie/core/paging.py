"""Page bounds every list call checks the same way."""

from __future__ import annotations

from menagerie.core.errors import Invalid

MAX_PAGE = 200


def check_page(limit: int, offset: int = 0, maximum: int = MAX_PAGE) -> None:
    if not 1 <= limit <= maximum:
        raise Invalid(
            f"limit must be between 1 and {maximum}",
            field="limit",
            received=limit,
            expected=f"1-{maximum}",
        )
    if offset < 0:
        raise Invalid("offset must not be negative", field="offset", received=offset)
