"""Keeping secrets out of logs: known secret values and credential-shaped strings are masked."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "***redacted***"

# Credential shapes worth masking even when we were never told the value.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\g<1>{MASK}"),
    (re.compile(r"podplay_api_[A-Za-z0-9_-]{8,}"), MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{12,}"), MASK),
    (
        re.compile(
            r"(?i)((?:password|passwd|secret|api[_-]?key|token)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
        ),
        rf"\g<1>{MASK}",
    ),
    (re.compile(r"(://[^:/@\s]+:)[^@/\s]+(@)"), rf"\g<1>{MASK}\g<2>"),  # user:password@
]


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if len(secret) >= 6 and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets masked before any handler sees it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        # redact the template and each argument separately, so that formatters which read
        # `record.args` themselves (uvicorn's access log does) keep working
        if isinstance(record.msg, str):
            record.msg = self.redactor(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._argument(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: self._argument(value) for key, value in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        return True

    def _argument(self, value: object) -> object:
        # numbers keep their type for %d and friends; any other object (a URL, an exception)
        # is rendered now so that what it renders to is redacted too
        if value is None or isinstance(value, (bool, int, float)):
            return value
        text = value if isinstance(value, str) else str(value)
        redacted = self.redactor(text)
        return value if redacted == text and not isinstance(value, str) else redacted
