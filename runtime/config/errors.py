"""The error every config problem is reported with."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration file, variable or flag is invalid; the message says where and why."""
