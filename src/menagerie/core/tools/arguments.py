"""Checking a tool call's arguments against the tool's JSON schema before anything runs it."""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema

from menagerie.core.errors import Invalid

MAX_CACHED = 512
# a session's tool list keeps the same schema objects until its next listing: found by
# identity, a call costs no serialising of its schema (the entry holds the schema, so its id
# is not reused while cached)
_by_identity: dict[int, tuple[dict[str, Any], jsonschema.protocols.Validator]] = {}


@functools.lru_cache(maxsize=MAX_CACHED)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(json.loads(schema_json))


def _validator_of(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cached = _by_identity.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    validator = _validator(json.dumps(schema or {"type": "object"}, sort_keys=True))
    if len(_by_identity) >= MAX_CACHED:
        _by_identity.clear()
    _by_identity[id(schema)] = (schema, validator)
    return validator


def validate_arguments(tool: str, schema: dict[str, Any], arguments: dict[str, Any]) -> None:
    """Raise `Invalid` (INVALID_INPUT) naming the first offending field."""
    try:
        # compiled once per distinct schema: tools are called far more often than listed
        validator = _validator_of(schema)
        if validator.is_valid(arguments):
            return
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
