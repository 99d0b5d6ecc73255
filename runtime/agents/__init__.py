"""LLM-backed agents."""
