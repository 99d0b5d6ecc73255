"""Errors storage raises to its callers; each message says what was wrong and what to do."""

from __future__ import annotations


class StorageError(RuntimeError):
    """Storage cannot be opened or used (unreachable database, missing privileges, bad setup)."""


class SchemaVersionError(StorageError):
    """The database schema is not at the revision this llmspell needs."""


class ConstraintViolation(StorageError):
    """A write broke a rule of the database (most often a unique key another writer took
    first); the message names the driver's error class, never the row."""
