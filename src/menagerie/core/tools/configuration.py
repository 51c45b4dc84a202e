"""The configuration of an installed server: its schema, validation, redaction and merging.

A configuration is what a user typed at install time: values for the server's schema plus the
reserved keys `env`, `headers`, `args`, `url`, `command` and `timeout`. It holds secrets
(tokens, passwords, keys in URLs; see `secrets.py`), so everything that leaves core goes
through `redact_configuration`, and `merge_configuration` lets a client send back what it read
without erasing those secrets. The URL guard is `urlguard.py`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from menagerie.core.errors import Invalid
from menagerie.core.tools.secrets import (
    MASKED,
    is_marked,
    is_masked,
    looks_secret,
    mask_secrets,
    scrub,
)

MAX_CALL_TIMEOUT_S = 600.0
# seconds one tool call may take: every server accepts it, whatever its own schema says
TIMEOUT_SCHEMA: dict[str, Any] = {
    "type": "number",
    "exclusiveMinimum": 0,
    "maximum": MAX_CALL_TIMEOUT_S,
    "description": "seconds a tool call may take before it fails",
}
RESERVED_SCHEMAS: dict[str, dict[str, Any]] = {
    "env": {"type": "object", "additionalProperties": {"type": "string"}},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "args": {"type": "array", "items": {"type": "string"}},
    "url": {"type": "string"},
    "command": {"type": "string"},
    "timeout": TIMEOUT_SCHEMA,
}
# keys applied to each call as it is made: changing them needs no restart
LIVE_KEYS = frozenset({"timeout"})
_RESERVED = Draft202012Validator({"type": "object", "properties": RESERVED_SCHEMAS})

# keywords whose values are data, not schemas: a `required` inside them is not ours to move
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})


def _normalize(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _normalize(item)
        return
    if not isinstance(node, dict):
        return
    properties = node.get("properties")
    if isinstance(properties, dict):
        required = list(node["required"]) if isinstance(node.get("required"), list) else []
        for name, prop in properties.items():
            # PodPlay's seed writes `"required": true` inside the property itself
            if not (isinstance(prop, dict) and isinstance(prop.get("required"), bool)):
                continue
            if prop.pop("required") and name not in required:
                required.append(name)
        if required:
            node["required"] = required
    if isinstance(node.get("required"), bool):
        del node["required"]  # a flag with no parent object to lift it into means nothing
    for key, value in node.items():
        if key not in _DATA_KEYWORDS:
            _normalize(value)


def normalize_schema(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """A standard JSON Schema (a copy): seed-style per-property `required` flags lifted."""
    result = copy.deepcopy(dict(schema)) if schema else {"type": "object"}
    _normalize(result)
    return result


def _path(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _expected(error: ValidationError) -> str:
    value = error.validator_value
    if error.validator == "type":
        return value if isinstance(value, str) else " or ".join(value)
    if error.validator == "enum":
        return "one of " + ", ".join(repr(v) for v in value)
    return f"{error.validator} {value!r}"


def _config_error(error: ValidationError, secrets: set[str]) -> Invalid:
    parts: list[str | int] = list(error.absolute_path)
    instance, schema = error.instance, error.schema if isinstance(error.schema, dict) else {}
    received: Any = instance
    missing = False
    message = f"Invalid configuration field '{_path(parts) or 'configuration'}': {error.message}"
    expected = _expected(error)
    if error.validator == "required" and isinstance(instance, dict):
        name = next((n for n in error.validator_value if n not in instance), None)
        if name is not None:
            parts, received, missing = [*parts, name], None, True
            prop = (schema.get("properties") or {}).get(name)
            expected = str(prop.get("type", "a value")) if isinstance(prop, dict) else "a value"
            message = f"Missing required configuration field '{_path(parts)}'"
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        known = set(schema.get("properties") or {})
        patterns = list(schema.get("patternProperties") or {})
        extra = next(
            (k for k in instance if k not in known and not any(re.search(p, k) for p in patterns)),
            None,
        )
        if extra is not None:
            parts, received = [*parts, extra], instance[extra]
            expected = "one of " + ", ".join(sorted(known)) if known else "no fields"
            message = f"Unknown configuration field '{_path(parts)}'"
    field = _path(parts) or "configuration"
    if any(isinstance(p, str) and (p in secrets or looks_secret(p)) for p in parts):
        # the library's message quotes the value: never echo a secret back
        message = f"Invalid configuration field '{field}': fails '{error.validator}'"
        received = None
    return Invalid(
        message,
        field=field,
        received=received,
        expected=expected,
        missing=missing,
        reason="INVALID_CONFIGURATION",
    )


def validate_configuration(schema: Mapping[str, Any] | None, config: Mapping[str, Any]) -> None:
    if not isinstance(config, Mapping):
        raise Invalid(
            "The configuration must be an object",
            field="configuration",
            received=config,
            expected="object",
            reason="INVALID_CONFIGURATION",
        )
    normalized = normalize_schema(schema)
    secrets = secret_keys(normalized)
    error = best_match(_RESERVED.iter_errors(dict(config)))
    if error is not None:
        raise _config_error(error, secrets)
    try:
        Draft202012Validator.check_schema(normalized)
    except SchemaError as problem:
        raise Invalid(
            f"The server's configuration schema is not valid: {problem.message}",
            field="configuration_schema",
            reason="INVALID_CONFIGURATION_SCHEMA",
        ) from None
    # reserved keys are allowed even where the schema forbids additional properties
    properties = normalized.setdefault("properties", {})
    for key, shape in RESERVED_SCHEMAS.items():
        properties.setdefault(key, shape)
    validator = Draft202012Validator(normalized, format_checker=Draft202012Validator.FORMAT_CHECKER)
    error = best_match(validator.iter_errors(dict(config)))
    if error is not None:
        raise _config_error(error, secrets)


def _restore(masked: str, candidates: list[Any], field: str) -> str:
    shape = re.compile(".+?".join(re.escape(p) for p in MASKED.split(masked)), re.S)
    for candidate in candidates:
        if isinstance(candidate, str) and not is_masked(candidate) and shape.fullmatch(candidate):
            return candidate
    raise Invalid(
        f"'{field}' holds a redacted value but no stored secret matches it; send the value again",
        field=field,
        received=masked,
        expected="the secret itself",
        reason="INVALID_CONFIGURATION",
    )


def _merge(old: Any, new: Any, field: str, patch: bool) -> Any:
    if isinstance(new, dict):
        base = old if isinstance(old, dict) else {}
        out = copy.deepcopy(base) if patch else {}
        for key, value in new.items():
            if patch and value is None:
                out.pop(key, None)  # JSON merge patch: null deletes
            else:
                out[key] = _merge(base.get(key), value, f"{field}.{key}" if field else key, patch)
        return out
    if isinstance(new, list):
        base = old if isinstance(old, list) else []
        return [
            _restore(item, [base[i] if i < len(base) else None, *base], f"{field}[{i}]")
            if is_masked(item)
            else _merge(base[i] if i < len(base) else None, item, f"{field}[{i}]", False)
            for i, item in enumerate(new)
        ]
    if is_masked(new):
        return _restore(new, [old], field)
    return copy.deepcopy(new)


def merge_configuration(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], *, replace: bool = False
) -> dict[str, Any]:
    """The configuration after a reconfigure: `new` applied to `old` as a JSON merge patch (or
    replacing it when `replace`), where a redacted value read earlier keeps the stored secret."""
    return _merge(dict(old or {}), dict(new), "", not replace)


def secret_keys(schema: Mapping[str, Any] | None) -> set[str]:
    properties = normalize_schema(schema).get("properties") or {}
    return {name for name, prop in properties.items() if is_marked(prop) or looks_secret(name)}


def collect_secrets(schema: Mapping[str, Any] | None, config: Mapping[str, Any]) -> list[str]:
    """Every secret string in a configuration, for log redaction and leak checks."""
    return scrub(normalize_schema(schema), config)[1]


def redact_configuration(
    schema: Mapping[str, Any] | None, config: Mapping[str, Any]
) -> dict[str, Any]:
    redacted, secrets = scrub(normalize_schema(schema), config)
    # a secret may also appear where no rule saw it (a command line, a description): mask it
    result: dict[str, Any] = mask_secrets(redacted, secrets)
    return result


def needs_restart(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a running server must restart to use `new` instead of `old`."""
    return {k: v for k, v in old.items() if k not in LIVE_KEYS} != {
        k: v for k, v in new.items() if k not in LIVE_KEYS
    }


def call_timeout(configuration: Mapping[str, Any], default: float) -> float:
    """The seconds a tool call of this installation may take (its `timeout`, else `default`)."""
    value = configuration.get("timeout")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return min(float(value), MAX_CALL_TIMEOUT_S)
    return default
