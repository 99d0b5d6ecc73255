"""The revisions of the llmspell schema, one linear chain (see `llmspell.migrations.REVISIONS`)."""
