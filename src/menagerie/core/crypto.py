"""Encryption of secrets at rest (provider keys, OAuth tokens, MCP configurations).

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`): authenticated, so a tampered or
foreign ciphertext is refused rather than decrypted to garbage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from menagerie.core.errors import Internal, Invalid
from menagerie.core.keyfile import load_or_create

KEY_FILE = "encryption_key"


def load_or_create_key(data_dir: Path) -> str:
    return load_or_create(data_dir / KEY_FILE, lambda: Fernet.generate_key().decode())


class SecretBox:
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError):
            raise Invalid(
                "the encryption key must be 32 url-safe base64-encoded bytes (a Fernet key)",
                field="encryption_key",
                received="(hidden)",
                expected="Fernet.generate_key()",
            ) from None

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            # never say more: the ciphertext may be an attacker's probe
            raise Internal(
                "a stored secret could not be decrypted with this server's key"
            ) from None

    def seal_json(self, value: Any) -> str:
        return self.seal(json.dumps(value, separators=(",", ":")))

    def open_json(self, ciphertext: str) -> Any:
        return json.loads(self.open(ciphertext))
