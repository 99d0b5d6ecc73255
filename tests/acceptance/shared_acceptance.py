"""Where the shared acceptance scripts are: `../shared/acceptance` beside the checkout."""

from pathlib import Path

ACCEPTANCE = Path(__file__).resolve().parents[2].parent / "shared" / "acceptance"
