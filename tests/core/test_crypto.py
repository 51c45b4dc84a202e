"""Secrets at rest: sealed with the server's key, refused when tampered with or foreign."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from menagerie.core.crypto import SecretBox, load_or_create_key
from menagerie.core.errors import Internal, Invalid


def test_round_trip_and_ciphertext_hides_the_plaintext() -> None:
    box = SecretBox(Fernet.generate_key().decode())
    sealed = box.seal("sk-canary-secret")
    assert "sk-canary-secret" not in sealed
    assert box.open(sealed) == "sk-canary-secret"
    assert box.open_json(box.seal_json({"token": "t", "n": 1})) == {"token": "t", "n": 1}


def test_tampered_or_foreign_ciphertext_is_refused() -> None:
    box = SecretBox(Fernet.generate_key().decode())
    other = SecretBox(Fernet.generate_key().decode())
    sealed = box.seal("value")
    with pytest.raises(Internal):
        other.open(sealed)
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(Internal):
        box.open(tampered)


def test_bad_key_is_invalid_setting() -> None:
    with pytest.raises(Invalid) as caught:
        SecretBox("not-a-key")
    assert caught.value.field == "encryption_key"


def test_generated_key_is_kept_private_and_reused(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    assert load_or_create_key(tmp_path) == key
    mode = (tmp_path / "encryption_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    SecretBox(key)  # usable as is
