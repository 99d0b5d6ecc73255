"""Encrypted API keys."""
