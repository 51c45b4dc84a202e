"""The configuration of an installed server: schema, validation, secrets and the URL guard.

A configuration is what a user typed at install time: values for the server's schema plus the
reserved keys `env`, `headers`, `args`, `url` and `command`. It holds secrets (tokens, passwords,
keys in URLs), so everything that leaves core goes through `redact_configuration`, and
`merge_configuration` lets a client send back what it read without erasing those secrets.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from menagerie.core.errors import Invalid

MASK = "***_redacted"
MIN_SECRET_LENGTH = 6  # shorter strings are too common to be worth hunting elsewhere

RESERVED_SCHEMAS: dict[str, dict[str, Any]] = {
    "env": {"type": "object", "additionalProperties": {"type": "string"}},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "args": {"type": "array", "items": {"type": "string"}},
    "url": {"type": "string"},
    "command": {"type": "string"},
}
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


# ---- secrets -------------------------------------------------------------------------------

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SECRET_FRAGMENT = re.compile(
    r"token|secret|passw(?:or)?d|passphrase|api_?key|credential|private|cookie"
)
_SECRET_WORD = re.compile(r"keys?|pat|pwd|auth(?!or(?:s|ed|ing|ity)?$)[a-z]*")  # not `author`
_SCHEMED = re.compile(r"(?i)^(bearer|basic|token|bot|digest)\s+(\S+)\s*$")
_HEADER_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]*)\s*:\s*(\S.*)$")
_ASSIGNMENT = re.compile(r"^(-{0,2}[A-Za-z_][\w.-]*)=(.*)$", re.S)
_FLAG = re.compile(r"^-{1,2}[A-Za-z][\w.-]*$")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_MASKED = re.compile(r"\*\*\*(?:_redacted)?")
_PREFIX = re.compile(r"^([A-Za-z]{2,5}[_-])(.+)$", re.S)


def looks_secret(name: str) -> bool:
    """Whether a key, variable, header or flag name suggests its value is a credential."""
    words = [w for w in re.split(r"[^a-z0-9]+", _CAMEL.sub(r"\1_\2", name).lower()) if w]
    return bool(_SECRET_FRAGMENT.search("_".join(words))) or any(
        _SECRET_WORD.fullmatch(w) for w in words
    )


def _marked(prop: Any) -> bool:
    return isinstance(prop, dict) and (
        prop.get("secret") is True
        or prop.get("writeOnly") is True
        or prop.get("format") == "password"
    )


def secret_keys(schema: Mapping[str, Any] | None) -> set[str]:
    properties = normalize_schema(schema).get("properties") or {}
    return {name for name, prop in properties.items() if _marked(prop) or looks_secret(name)}


def mask(value: str) -> str:
    """`ghp_your_token_here` -> `ghp_***_redacted`: the kind of token stays recognisable."""
    match = _PREFIX.match(value)
    return match.group(1) + MASK if match and len(match.group(2)) >= 8 else MASK


def _is_masked(value: Any) -> bool:
    return isinstance(value, str) and (MASK in value or value == "***" or ":***@" in value)


class _Scrubber:
    """Walks a configuration once: collects the secrets and builds the redacted copy."""

    def __init__(self) -> None:
        self.found: dict[str, None] = {}  # an ordered set

    def note(self, value: str) -> None:
        if len(value) >= MIN_SECRET_LENGTH and not _is_masked(value):
            self.found[value] = None

    def value(self, value: Any, schema: Any, secret: bool) -> Any:
        if isinstance(value, str):
            return self.secret(value) if secret else self.text(value)
        if isinstance(value, dict):
            props = schema.get("properties") if isinstance(schema, dict) else None
            props = props if isinstance(props, dict) else {}
            return {
                k: self.value(v, props.get(k), secret or _marked(props.get(k)) or looks_secret(k))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return self.items(
                value, schema.get("items") if isinstance(schema, dict) else None, secret
            )
        return value

    def secret(self, value: str) -> str:
        self.note(value)
        scheme = _SCHEMED.match(value)
        if scheme:  # `Bearer X`: both X and the whole value are the secret
            self.note(scheme.group(2))
            return f"{scheme.group(1)} {MASK}"
        return mask(value) if value else value

    def text(self, value: str) -> str:
        header = _HEADER_LINE.match(value)
        if header and looks_secret(header.group(1)):  # `Authorization: Bearer X` as an arg
            return f"{header.group(1)}: {self.secret(header.group(2).strip())}"
        return _URL.sub(lambda m: self.url(m.group(0)), value)

    def items(self, items: list[Any], schema: Any, secret: bool) -> list[Any]:
        out: list[Any] = []
        after_flag = False  # the previous item was a secret-looking flag: `--token X`
        for item in items:
            if not isinstance(item, str) or secret:
                out.append(self.value(item, schema, secret))
            elif after_flag and not item.startswith("-"):
                out.append(self.secret(item))
            elif (assign := _ASSIGNMENT.match(item)) and looks_secret(assign.group(1)):
                out.append(f"{assign.group(1)}={self.secret(assign.group(2))}")
            else:
                out.append(self.text(item))
            after_flag = isinstance(item, str) and bool(_FLAG.match(item)) and looks_secret(item)
        return out

    def url(self, value: str) -> str:
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - an invalid port raises here, before we rebuild anything
        except ValueError:
            return value
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, colon, password = userinfo.partition(":")
            if colon and password:
                self.note(password)
                self.note(unquote_plus(password))
                netloc = f"{user}:***@{hostport}"
            elif len(user) >= 16:  # `https://TOKEN@github.com/...`: a long user is a token
                self.note(user)
                netloc = f"{MASK}@{hostport}"
        query, fragment = self.params(parts.query), self.params(parts.fragment)
        if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
            return value
        return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))

    def params(self, text: str) -> str:
        pieces = []
        for piece in text.split("&") if text else ():
            name, equals, raw = piece.partition("=")
            if equals and raw and looks_secret(unquote_plus(name)):
                self.note(raw)
                self.note(unquote_plus(raw))
                piece = f"{name}={MASK}"
            pieces.append(piece)
        return "&".join(pieces)


def _scrub(schema: Mapping[str, Any] | None, config: Mapping[str, Any]) -> tuple[Any, list[str]]:
    scrubber = _Scrubber()
    redacted = scrubber.value(dict(config), normalize_schema(schema), False)
    return redacted, list(scrubber.found)


def collect_secrets(schema: Mapping[str, Any] | None, config: Mapping[str, Any]) -> list[str]:
    """Every secret string in a configuration, for log redaction and leak checks."""
    return _scrub(schema, config)[1]


def _replace(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {k: _replace(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, secrets) for v in value]
    return value


def redact_configuration(
    schema: Mapping[str, Any] | None, config: Mapping[str, Any]
) -> dict[str, Any]:
    redacted, secrets = _scrub(schema, config)
    # a secret may also appear where no rule saw it (a command line, a description): mask it
    return _replace(redacted, sorted(secrets, key=len, reverse=True))


def _restore(masked: str, candidates: list[Any], field: str) -> str:
    shape = re.compile(".+?".join(re.escape(p) for p in _MASKED.split(masked)), re.S)
    for candidate in candidates:
        if isinstance(candidate, str) and not _is_masked(candidate) and shape.fullmatch(candidate):
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
            if _is_masked(item)
            else _merge(base[i] if i < len(base) else None, item, f"{field}[{i}]", False)
            for i, item in enumerate(new)
        ]
    if _is_masked(new):
        return _restore(new, [old], field)
    return copy.deepcopy(new)


def merge_configuration(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], *, replace: bool = False
) -> dict[str, Any]:
    """The configuration after a reconfigure: `new` applied to `old` as a JSON merge patch (or
    replacing it when `replace`), where a redacted value read earlier keeps the stored secret."""
    return _merge(dict(old or {}), dict(new), "", not replace)


# ---- URL guard -----------------------------------------------------------------------------

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _internal(ip: _Address) -> str | None:
    """Why an address must not be reached from the server, or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _internal(ip.ipv4_mapped)
        if ip in _NAT64:
            return _internal(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and (reason := _internal(embedded)):
            return reason
    for attribute in ("loopback", "link_local", "multicast", "unspecified", "private", "reserved"):
        if getattr(ip, f"is_{attribute}"):
            return attribute.replace("_", "-")
    return None if ip.is_global else "non-public"


def _url_error(message: str, url: str) -> Invalid:
    return Invalid(
        message,
        field="url",
        received=_Scrubber().text(url),
        expected="a public http(s) URL",
        reason="URL_NOT_ALLOWED",
    )


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that would let a configuration reach the server's own network (SSRF).

    This checks the addresses the name has now; the HTTP client must still connect to one of
    them, or re-check, to defeat DNS rebinding.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except (ValueError, AttributeError):
        raise _url_error("Not a valid URL", str(url)) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise _url_error(
            f"Only http and https URLs are allowed, not {parts.scheme or 'none'!r}", url
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise _url_error("The URL has no host", url)
    if allow_private:
        return
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        raise _url_error(f"The host {host!r} is this machine", url)
    try:
        addresses: list[_Address] = [ipaddress.ip_address(host.split("%")[0])]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise _url_error(f"The host {host!r} could not be resolved", url) from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise _url_error(f"The host {host!r} could not be resolved", url) from None
    for address in addresses:
        reason = _internal(address)
        if reason is not None:
            raise _url_error(
                f"The host {host!r} is a {reason} address ({address}); "
                "private network addresses are not allowed",
                url,
            )
