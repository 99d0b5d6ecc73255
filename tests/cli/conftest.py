"""Fixtures for CLI tests: an isolated environment, `llmspell.cli.main` run in-process, and the
installed `llmspell` command run as a subprocess."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cli_helpers import LLMSPELL, Outcome, RunCli

from llmspell.cli import main


@pytest.fixture(autouse=True)
def _isolated(isolated_env: Path) -> Path:
    """Every test here runs in the isolated environment of the root conftest."""
    return isolated_env


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """`cli("--profile", "memory", "exec", "1 + 1")` runs `llmspell.cli.main` in this process."""

    def run(*argv: str) -> Outcome:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


@pytest.fixture
def llmspell(isolated_env: Path) -> RunCli:
    """`llmspell("exec", "1", env={...})` runs the installed command in a subprocess with the
    test's isolated environment (plus `env`)."""

    def run(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> Outcome:
        proc = subprocess.run(
            [str(LLMSPELL), *argv],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=isolated_env,
            timeout=timeout,
        )
        return Outcome(proc.returncode, proc.stdout, proc.stderr)

    return run
