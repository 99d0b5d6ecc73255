"""Encrypted API keys: `KeyStore` (the manager `llmspell keys` and the providers use), what it
shows of a key (`KeyInfo`), and the master key that encrypts them (`master`)."""

from llmspell.runtime.keys.master import MASTER_KEY_ENV, MasterKeyError, decode_master_key
from llmspell.runtime.keys.store import KeyInfo, KeyStore, MasterKeyRotation

__all__ = [
    "MASTER_KEY_ENV",
    "KeyInfo",
    "KeyStore",
    "MasterKeyError",
    "MasterKeyRotation",
    "decode_master_key",
]
