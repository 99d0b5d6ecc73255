"""The shared acceptance scripts (their `run.sh`, see shared_acceptance.py) through the installed
CLI, per storage profile. Adding a profile is one line in PROFILES; a script joins SCRIPTS when
the features it checks are built. Collected only where the scripts exist (see conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from shared_acceptance import ACCEPTANCE

from llmspell.storage.postgres import os_user

SCRIPTS = [
    "state_roundtrip.lua",
    "json_sandbox_args.lua",
    "sessions_lifecycle.lua",
    "artifacts.lua",
    "tools_workflows.lua",
    "events_hooks.lua",
    "memory_episodic.lua",
    "semantic_bitemporal.lua",
    "rag_search.lua",
    "context_assemble.lua",
]
PROFILES = [
    pytest.param("memory", id="memory"),
    pytest.param("default", id="default"),
    pytest.param("embedded-postgres", id="embedded-postgres"),
]

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("profile", PROFILES)
def test_acceptance_script_passes(profile: str, script: str, pg_server_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    if profile == "embedded-postgres" and os_user.runs_as_root():
        # run.sh keeps its data in a private (0700) temp dir the server's OS user cannot
        # enter, and llmspell does not loosen it: the cluster goes where that user can.
        env["LLMSPELL_STORAGE__POSTGRES__DATA_DIR"] = str(pg_server_dir / "pg")
    # the project's venv first, so run.sh finds this checkout's `llmspell`
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        ["bash", str(ACCEPTANCE / "run.sh"), "--profile", profile, script],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "1 passed, 0 failed"
