"""Component 7, artifacts: content-addressed bodies per tenant with reference counts, and the
versioned artifacts of each session that point at them.

- `model`: settings, records, queries, integrity findings, the `ArtifactStore` Protocol;
- `content`: what can be stored (bytes, text, a file), read in chunks;
- `tables`: the SQLAlchemy tables;
- `bodies`: where bytes live (chunk rows, written and read one chunk at a time);
- `store`: `SqlArtifactStore`, the rules of storing, referencing, reading and deleting.
- `integrity`: the check of reference counts and bodies (`check_integrity`).
"""

from llmspell.storage.components.artifacts.content import (
    BytesContent,
    Content,
    FileContent,
    TextContent,
)
from llmspell.storage.components.artifacts.model import (
    ArtifactQuery,
    ArtifactRecord,
    ArtifactSettings,
    ArtifactStore,
    IntegrityProblem,
    NewArtifact,
)
from llmspell.storage.components.artifacts.store import SqlArtifactStore
from llmspell.storage.components.artifacts.tables import TABLES
from llmspell.storage.registry import Component
from llmspell.storage.values import mebibytes

__all__ = [
    "ArtifactQuery",
    "ArtifactRecord",
    "ArtifactSettings",
    "ArtifactStore",
    "BytesContent",
    "Content",
    "FileContent",
    "IntegrityProblem",
    "NewArtifact",
    "SqlArtifactStore",
    "TextContent",
]

COMPONENT = Component(
    name="artifacts",
    title="content-addressed artifact bodies and versioned session artifacts (Artifact)",
    protocol=ArtifactStore,
    tables=TABLES,
    store=SqlArtifactStore,
    settings=ArtifactSettings,
    from_config=lambda storage: ArtifactSettings(max_bytes=mebibytes(storage.max_artifact_mb)),
    session_data_owner="llmspell.runtime.sessions.artifacts:ArtifactManager",
)
