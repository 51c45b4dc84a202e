"""Logging setup: one line per record, request id attached, secrets redacted."""

from __future__ import annotations

import logging
from contextvars import ContextVar

from menagerie.core.redact import RedactingFilter, Redactor

request_id_var: ContextVar[str | None] = ContextVar("menagerie_request_id", default=None)

_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


def configure_logging(level: str, redactor: Redactor) -> None:
    """Attach the request-id and redaction filters to every handler of the root logger."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(handler)
    root.setLevel(level.upper())
    for logger in (root, logging.getLogger("uvicorn"), logging.getLogger("uvicorn.access")):
        for handler in logger.handlers:
            _ensure_filter(handler, RequestIdFilter)
            for existing in handler.filters:
                if isinstance(existing, RedactingFilter):
                    existing.redactor = redactor
                    break
            else:
                handler.addFilter(RedactingFilter(redactor))


def _ensure_filter(handler: logging.Handler, kind: type[logging.Filter]) -> None:
    if not any(isinstance(f, kind) for f in handler.filters):
        handler.addFilter(kind())
