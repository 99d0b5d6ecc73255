"""Where the shared acceptance scripts are: `../shared/acceptance` beside the checkout, which CI
has and a user's clone does not."""

from pathlib import Path

ACCEPTANCE = Path(__file__).resolve().parents[2].parent / "shared" / "acceptance"
AVAILABLE = (ACCEPTANCE / "run.sh").exists()
