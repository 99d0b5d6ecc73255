"""Sessions: their records and lifecycle (`manager`), the components that keep data per
session and its delete cascade (`data`), the replay of a session's recorded hook calls
(`replay`), and session-scoped vectors (`vectors`)."""

from llmspell.runtime.sessions.manager import (
    MAX_DESCRIPTION,
    MAX_METADATA_BYTES,
    MAX_NAME,
    MAX_TAG,
    MAX_TAGS,
    UNSET,
    SessionInfo,
    SessionManager,
    check_metadata,
    check_session_id,
    check_tags,
    check_text,
    require_text,
)

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_METADATA_BYTES",
    "MAX_NAME",
    "MAX_TAG",
    "MAX_TAGS",
    "UNSET",
    "SessionInfo",
    "SessionManager",
    "check_metadata",
    "check_session_id",
    "check_tags",
    "check_text",
    "require_text",
]
