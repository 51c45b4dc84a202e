"""Checking a tool call's arguments against the tool's JSON schema before anything runs it."""

from __future__ import annotations

from typing import Any

import jsonschema

from menagerie.core.errors import Invalid


def validate_arguments(tool: str, schema: dict[str, Any], arguments: dict[str, Any]) -> None:
    """Raise `Invalid` (INVALID_INPUT) naming the first offending field."""
    try:
        validator = jsonschema.Draft202012Validator(schema or {"type": "object"})
        error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    except jsonschema.exceptions.SchemaError:
        return  # a server's malformed schema is its problem: let the server judge the call
    if error is None:
        return
    field = ".".join(str(part) for part in error.absolute_path) or None
    if field is None and error.validator == "required":
        missing = [name for name in error.validator_value if name not in arguments]
        field = missing[0] if missing else None
    raise Invalid(
        f"invalid arguments for {tool}: {error.message}",
        field=field,
        received=error.instance if field else None,
        expected=str(error.schema.get("type", error.validator)),
        code="INVALID_INPUT",
    )
