"""Checking a tool call's arguments against the tool's JSON schema before anything runs it."""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema

from menagerie.core.errors import Invalid


@functools.lru_cache(maxsize=512)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(json.loads(schema_json))


def validate_arguments(tool: str, schema: dict[str, Any], arguments: dict[str, Any]) -> None:
    """Raise `Invalid` (INVALID_INPUT) naming the first offending field."""
    try:
        # compiled once per distinct schema: tools are called far more often than listed
        validator = _validator(json.dumps(schema or {"type": "object"}, sort_keys=True))
        error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    except (jsonschema.exceptions.SchemaError, jsonschema.exceptions.UnknownType):
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
        reason="INVALID_INPUT",
    )
