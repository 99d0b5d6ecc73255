"""`python -m llmspell` runs the command-line interface."""

from llmspell.cli import main

raise SystemExit(main())
