"""Sign-In with Ethereum (EIP-4361) messages: building them, reading them back, addresses.

The server compares a signed message with the one it issued (by SHA-256), so the parser
needs to be exact only about what it checks (domain, address, chain, nonce, times); it follows
the EIP's ABNF line by line and refuses anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from eth_utils import to_checksum_address

from menagerie.core.errors import Invalid

VERSION = "1"
_HEADER = " wants you to sign in with your Ethereum account:"
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_NONCE = re.compile(r"^[A-Za-z0-9]{8,}$")
_UINT256_MAX = 2**256 - 1
_FIELDS = (
    ("uri", "URI: "),
    ("version", "Version: "),
    ("chain_id", "Chain ID: "),
    ("nonce", "Nonce: "),
    ("issued_at", "Issued At: "),
)
_OPTIONAL = (
    ("expiration_time", "Expiration Time: "),
    ("not_before", "Not Before: "),
    ("request_id", "Request ID: "),
)


class SiweFormatError(ValueError):
    """Text that is not an EIP-4361 message."""


def checksum_address(value: str, *, field: str = "wallet_address", strict: bool = True) -> str:
    """The EIP-55 spelling of an address; a mixed-case input must already be it (unless not
    `strict`: where a signature proves the address, a mis-checksummed spelling is only that)."""
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise Invalid(
            "not an Ethereum address",
            field=field,
            received=value,
            expected="0x followed by 40 hexadecimal digits",
        )
    checksummed = to_checksum_address(value)
    digits = value[2:]
    mixed = digits != digits.lower() and digits != digits.upper()
    if strict and mixed and value != checksummed:
        raise Invalid(
            "address checksum (EIP-55) does not match",
            field=field,
            received=value,
            expected=checksummed,
        )
    return checksummed


def token_id(value: str | int, *, field: str = "nft_token_id") -> str:
    """An ERC-721 token id (uint256) in canonical decimal."""
    text = str(value).strip()
    if not text.isdigit() or not text.isascii() or int(text) > _UINT256_MAX:
        raise Invalid(
            "not an NFT token id", field=field, received=value, expected="a uint256 in decimal"
        )
    return str(int(text))


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as the message carries it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SiweFormatError(f"not an RFC 3339 time: {text!r}") from exc
    if moment.tzinfo is None:
        raise SiweFormatError(f"time without a zone: {text!r}")
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class SiweMessage:
    domain: str
    address: str
    statement: str | None
    uri: str
    chain_id: int
    nonce: str
    issued_at: str
    version: str = VERSION
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)
    scheme: str | None = None

    def text(self) -> str:
        """The message exactly as EIP-4361 lays it out, to be signed with `personal_sign`."""
        origin = f"{self.scheme}://{self.domain}" if self.scheme else self.domain
        lines = [origin + _HEADER, self.address, ""]
        if self.statement is not None:
            lines += [self.statement, ""]
        else:
            lines.append("")
        lines += [
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {self.issued_at}",
        ]
        for name, label in _OPTIONAL:
            value = getattr(self, name)
            if value is not None:
                lines.append(label + value)
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)

    @property
    def expires(self) -> datetime | None:
        return parse_timestamp(self.expiration_time) if self.expiration_time else None


def parse(text: str) -> SiweMessage:
    """Read an EIP-4361 message; `SiweFormatError` names the first thing that is wrong."""
    lines = text.split("\n")
    if len(lines) < 9 or not lines[0].endswith(_HEADER):
        raise SiweFormatError("the first line must be '<domain> wants you to sign in with …'")
    origin = lines[0][: -len(_HEADER)]
    scheme, _, domain = origin.rpartition("://")
    if not domain or any(c.isspace() for c in domain):
        raise SiweFormatError("the message names no domain")
    address = lines[1]
    if not _ADDRESS.match(address):
        raise SiweFormatError("the second line must be the address")
    if lines[2] != "":
        raise SiweFormatError("an empty line must follow the address")
    at = 3
    statement: str | None = None
    if lines[at] != "":
        statement = lines[at]
        at += 1
        if at >= len(lines) or lines[at] != "":
            raise SiweFormatError("an empty line must follow the statement")
    at += 1
    values: dict[str, str] = {}
    for name, label in _FIELDS:
        if at >= len(lines) or not lines[at].startswith(label):
            raise SiweFormatError(f"expected '{label.strip()}' on line {at + 1}")
        values[name] = lines[at][len(label) :]
        at += 1
    for name, label in _OPTIONAL:
        if at < len(lines) and lines[at].startswith(label):
            values[name] = lines[at][len(label) :]
            at += 1
    resources: list[str] = []
    if at < len(lines) and lines[at] == "Resources:":
        at += 1
        while at < len(lines) and lines[at].startswith("- "):
            resources.append(lines[at][2:])
            at += 1
    if at != len(lines):
        raise SiweFormatError(f"unexpected text on line {at + 1}")
    if values["version"] != VERSION:
        raise SiweFormatError(f"unsupported version {values['version']!r}")
    if not values["chain_id"].isdigit() or not values["chain_id"].isascii():
        raise SiweFormatError("Chain ID must be a number")
    if not _NONCE.match(values["nonce"]):
        raise SiweFormatError("Nonce must be at least 8 letters or digits")
    for name in ("issued_at", "expiration_time", "not_before"):
        if name in values:
            parse_timestamp(values[name])
    return SiweMessage(
        domain=domain,
        address=address,
        statement=statement,
        uri=values["uri"],
        chain_id=int(values["chain_id"]),
        nonce=values["nonce"],
        issued_at=values["issued_at"],
        version=values["version"],
        expiration_time=values.get("expiration_time"),
        not_before=values.get("not_before"),
        request_id=values.get("request_id"),
        resources=tuple(resources),
        scheme=scheme or None,
    )
