"""Component 2, graph: semantic memory as bi-temporal entities and relationships.

Entities and relationships are versioned rows of the bi-temporal model
(`llmspell.storage.bitemporal`): valid time x transaction time, updates supersede and
re-record, nothing is physically removed.

Traversal is one statement per call, on both dialects: a recursive CTE over entity ids and hop
counts, `UNION` so each (entity, hops) pair is produced once (cycles end at the depth bound),
only entities and edges valid at the lookup times (answered from covering indexes), the tenant
on every join; then the versions of the entities and edges it reached, read once.

- `model`: entity and relationship versions, neighbourhoods, the `GraphStore` Protocol;
- `tables`: the SQLAlchemy tables;
- `walk`: the recursive walk and the conversion of its rows (`PostgresWalk` on PostgreSQL);
- `store`: `SqlGraphStore`, entities, relationships and lookups.
"""

from llmspell.storage.components.graph.model import (
    MAX_DEPTH,
    Direction,
    EntityVersion,
    GraphStore,
    Neighbourhood,
    RelationshipVersion,
)
from llmspell.storage.components.graph.store import SqlGraphStore
from llmspell.storage.components.graph.tables import graph_entities, graph_relationships
from llmspell.storage.registry import Component

__all__ = [
    "MAX_DEPTH",
    "Direction",
    "EntityVersion",
    "GraphStore",
    "Neighbourhood",
    "RelationshipVersion",
    "SqlGraphStore",
    "graph_entities",
    "graph_relationships",
]

COMPONENT = Component(
    name="graph",
    title="semantic memory: bi-temporal entities and relationships with recursive traversal",
    protocol=GraphStore,
    tables=(graph_entities, graph_relationships),
    store=SqlGraphStore,
)
