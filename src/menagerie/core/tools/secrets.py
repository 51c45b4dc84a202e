"""Secrets in a configuration: which names and values are credentials, how they are masked.

A configuration holds tokens, passwords and keys in URLs; `Scrubber` walks one once, collecting
every secret it finds (for log redaction and leak checks) and building the masked copy that
is all that ever leaves core.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

MASK = "***_redacted"
MIN_SECRET_LENGTH = 6  # shorter strings are too common to be worth hunting elsewhere

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
MASKED = re.compile(r"\*\*\*(?:_redacted)?")
_PREFIX = re.compile(r"^([A-Za-z]{2,5}[_-])(.+)$", re.S)


def looks_secret(name: str) -> bool:
    """Whether a key, variable, header or flag name suggests its value is a credential."""
    words = [w for w in re.split(r"[^a-z0-9]+", _CAMEL.sub(r"\1_\2", name).lower()) if w]
    return bool(_SECRET_FRAGMENT.search("_".join(words))) or any(
        _SECRET_WORD.fullmatch(w) for w in words
    )


def is_marked(prop: Any) -> bool:
    return isinstance(prop, dict) and (
        prop.get("secret") is True
        or prop.get("writeOnly") is True
        or prop.get("format") == "password"
    )


def mask(value: str) -> str:
    """`ghp_your_token_here` -> `ghp_***_redacted`: the kind of token stays recognisable."""
    match = _PREFIX.match(value)
    return match.group(1) + MASK if match and len(match.group(2)) >= 8 else MASK


def is_masked(value: Any) -> bool:
    return isinstance(value, str) and (MASK in value or value == "***" or ":***@" in value)


class Scrubber:
    """Walks a configuration once: collects the secrets and builds the redacted copy."""

    def __init__(self) -> None:
        self.found: dict[str, None] = {}  # an ordered set

    def note(self, value: str) -> None:
        if len(value) >= MIN_SECRET_LENGTH and not is_masked(value):
            self.found[value] = None

    def value(self, value: Any, schema: Any, secret: bool) -> Any:
        if isinstance(value, str):
            return self.secret(value) if secret else self.text(value)
        if isinstance(value, dict):
            props = schema.get("properties") if isinstance(schema, dict) else None
            props = props if isinstance(props, dict) else {}
            return {
                k: self.value(v, props.get(k), secret or is_marked(props.get(k)) or looks_secret(k))
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


def scrub(normalized_schema: Mapping[str, Any], config: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """The masked copy of `config` and every secret found in it (`normalized_schema` says
    which properties are secret)."""
    scrubber = Scrubber()
    redacted = scrubber.value(dict(config), normalized_schema, False)
    return redacted, list(scrubber.found)


def scrub_text(text: str) -> str:
    """`text` with the credentials of any URL or header line in it masked."""
    return Scrubber().text(text)


def mask_secrets(value: Any, secrets: list[str], mask_with: str = MASK) -> Any:
    """`value` with every occurrence of each secret masked, however deeply it is nested."""
    ordered = sorted(secrets, key=len, reverse=True)  # a secret inside a longer one goes last
    return _replace(value, ordered, mask_with)


def _replace(value: Any, secrets: list[str], mask_with: str) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, mask_with)
        return value
    if isinstance(value, dict):
        return {k: _replace(v, secrets, mask_with) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, secrets, mask_with) for v in value]
    return value
