"""Operations on a whole store: migrate between backends, back up and restore, event retention,
validate, stats and benchmarks. Each `llmspell storage <action>` command is a thin layer over a
function here."""
