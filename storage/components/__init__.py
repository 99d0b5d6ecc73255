"""Storage components: one module per component, named as its config name, each ending with
`COMPONENT = Component(...)` (see `llmspell.storage.registry`). Nothing is imported here: the
registry lists the modules cheaply and loads them when storage opens."""
