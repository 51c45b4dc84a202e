"""Wire types every dialect's schemas share."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

_ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\d")
# `...T14:24:17 00:00`: a `+HH:MM` offset sent unencoded in a query (the seed's own cron
# example does: `olderThan=$(date -Iseconds)`), whose `+` arrives as a space
_SPACED_OFFSET = re.compile(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


def _iso_only(value: Any) -> Any:
    # the seeds' times are ISO 8601 strings; pydantic alone would also read 0.5 as 1970
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("an ISO 8601 time such as 2025-10-30T23:28:09Z")
    return _SPACED_OFFSET.sub(r"\1+\2", value)


IsoTime = Annotated[datetime, BeforeValidator(_iso_only)]

__all__ = ["IsoTime"]
