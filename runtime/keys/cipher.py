"""AES-256-GCM for API keys: a fresh 12-byte nonce per encryption, and associated data that
binds a ciphertext to its tenant, key id and service (copied to another row or tenant, it no
longer decrypts)."""

from __future__ import annotations

import json
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's standard nonce; random per encryption


def associated_data(tenant_id: str, key_id: str, service: str) -> bytes:
    """What a ciphertext is bound to (JSON, so no two triples encode alike)."""
    return json.dumps(["llmspell-api-key", tenant_id, key_id, service]).encode("utf-8")


def encrypt(master_key: bytes, plaintext: str, aad: bytes) -> tuple[bytes, bytes]:
    """(ciphertext with its tag, nonce) of `plaintext` under `master_key`."""
    nonce = os.urandom(NONCE_BYTES)
    return AESGCM(master_key).encrypt(nonce, plaintext.encode("utf-8"), aad), nonce


def decrypt(master_key: bytes, ciphertext: bytes, nonce: bytes, aad: bytes) -> str:
    """The plaintext; `cryptography.exceptions.InvalidTag` when the key, the nonce, the
    associated data or the ciphertext is not the one it was encrypted with."""
    return AESGCM(master_key).decrypt(nonce, ciphertext, aad).decode("utf-8")
