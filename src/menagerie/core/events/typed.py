"""Typed events: frozen dataclasses carried on the bus as plain JSON.

Core says what happened in its own terms; each surface in `realtime/` shapes the payload its
clients expect. The bus carries `to_payload()`, a JSON-able dict of the typed fields (times in
ISO 8601, tuples as lists), and `from_payload` reads it back on this replica or another.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, ClassVar, Self

from menagerie.core.clock import iso


class TypedEvent:
    """JSON payloads for frozen dataclasses whose fields are str, numbers, bools or datetimes."""

    __slots__ = ()
    topic: ClassVar[str]

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            payload[item.name] = iso(value) if isinstance(value, datetime) else value
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Self:
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):  # type: ignore[arg-type]
            if item.name not in payload:
                continue  # a field added later: its default stands in
            value = payload[item.name]
            if "datetime" in str(item.type) and isinstance(value, str):
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            values[item.name] = value
        return cls(**values)
