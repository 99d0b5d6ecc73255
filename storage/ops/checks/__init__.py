"""The checks of `storage validate`, one module per kind (as alembic's `autogenerate/compare/`):
`schema` for the whole database, the others for one component each."""

from __future__ import annotations

from .artifacts import artifact_integrity
from .events import event_partitions
from .graph import graph_temporal
from .result import Check, CheckResult, Problem
from .schema import row_level_security, schema_revision
from .vectors import keyword_index, vector_dimensions

# The checks of one component each, in the order they run: (check name, component, check).
COMPONENT_CHECKS: list[tuple[str, str, Check]] = [
    ("artifact_integrity", "artifacts", artifact_integrity),
    ("vector_dimensions", "vectors", vector_dimensions),
    ("keyword_index", "vectors", keyword_index),
    ("graph_temporal", "graph", graph_temporal),
    ("event_partitions", "events", event_partitions),
]

__all__ = [
    "COMPONENT_CHECKS",
    "Check",
    "CheckResult",
    "Problem",
    "row_level_security",
    "schema_revision",
]
