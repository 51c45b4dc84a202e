"""Passwords: argon2id hashes (pwdlib) and the strength rules a new password must meet."""

from __future__ import annotations

import re

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from menagerie.core.errors import Invalid

MIN_LENGTH = 8
MAX_LENGTH = 128  # argon2 hashes any length; a cap keeps one request from costing seconds
_hasher = PasswordHash((Argon2Hasher(),))
# verified against when the user does not exist, so that a login takes as long either way
_DUMMY_HASH = _hasher.hash("menagerie-timing-equaliser")
COMMON = frozenset(
    {"password", "password1", "password123", "12345678", "123456789", "qwerty123", "letmein1"}
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Whether it matches, and a new hash when the stored one uses outdated parameters."""
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False, None
    return _hasher.verify_and_update(password, password_hash)


def check_strength(password: str, *, field: str = "password") -> None:
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"at most {MAX_LENGTH} characters")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        problems.append("letters and digits")
    if password.lower() in COMMON or len(set(password)) < 4:
        problems.append("not a common or repetitive password")
    if problems:
        raise Invalid(
            "password is too weak: it needs " + ", ".join(problems),
            field=field,
            received="(hidden)",
            expected=", ".join(problems),
            reason="WEAK_PASSWORD",
        )
