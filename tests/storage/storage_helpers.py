"""Helpers of the storage suites."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from llmspell.storage import registry

# Any text but NUL, which every backend refuses (PostgreSQL cannot keep it).
storable_chars = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
json_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(storable_chars, max_size=20),
)
json_keys = st.text(storable_chars, max_size=8)
# Any JSON value a store must round-trip.
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4)
    ),
    max_leaves=12,
)


def component_params() -> list[str]:
    """What `component` is parametrized over: every component the registry knows."""
    return registry.component_names()
