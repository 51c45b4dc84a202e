"""The shared kernel: ids, clock, errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from menagerie.core import errors as E
from menagerie.core.clock import epoch_ms, epoch_s, human_duration, iso
from menagerie.core.ids import new_id, request_id


def test_ids_carry_their_prefix_and_do_not_repeat() -> None:
    ids = {new_id("sess") for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"sess_[0-9a-z]{20}", value) for value in ids)
    assert request_id().startswith("req_")


def test_iso_is_utc_with_milliseconds_and_z() -> None:
    moment = datetime(2024, 6, 2, 22, 30, 45, 123456, tzinfo=UTC)
    assert iso(moment) == "2024-06-02T22:30:45.123Z"
    # another zone is converted, and a naive value is taken as UTC (SQLite returns those)
    plus_two = moment.astimezone(timezone(timedelta(hours=2)))
    assert iso(plus_two) == "2024-06-02T22:30:45.123Z"
    assert iso(moment.replace(tzinfo=None)) == "2024-06-02T22:30:45.123Z"
    assert iso(None) is None


def test_epoch_spellings() -> None:
    moment = datetime(2024, 10, 22, 16, 0, tzinfo=UTC)
    assert epoch_ms(moment) == 1729612800000
    assert epoch_s(moment) == 1729612800.0


def test_human_duration() -> None:
    assert human_duration(42) == "42s"
    assert human_duration(3 * 60 + 5) == "3m"
    assert human_duration(2 * 86400 + 4 * 3600 + 30 * 60) == "2d 4h 30m"


def test_invalid_names_field_received_expected() -> None:
    error = E.Invalid("bad", field="message", received="", expected="Non-empty string")
    assert error.details == {"field": "message", "received": "", "expected": "Non-empty string"}
    assert error.errors[0]["field"] == "message"
    assert error.reason == "INVALID_INPUT"
    assert not error.specific  # generic: each dialect says it in its own words


def test_a_specific_reason_is_kept_on_the_instance() -> None:
    error = E.NotFound("Agent 'x' does not exist", reason="AGENT_NOT_FOUND")
    assert error.reason == "AGENT_NOT_FOUND"
    assert error.specific
    assert E.NotFound("gone").reason == "NOT_FOUND"


def test_unavailable_names_the_service() -> None:
    error = E.Unavailable("down", service="database")
    assert error.details == {"service": "database"}
    assert error.service == "database"
