"""Building llmspell's wheel from a source tree and installing it into a fresh environment."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path


def build_wheel(source: Path, dist: Path) -> Path:
    """The wheel of `source`, built into `dist` (pip's build isolation: the project venv's
    setuptools cannot build wheels on its own, and pyproject pins its build backend)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = dist.glob("llmspell-*.whl")
    return built


def install_wheel(wheel: Path, venv: Path) -> Path:
    """A fresh venv at `venv` with `wheel` installed; its python. Dependencies come from this
    venv, appended after the fresh site-packages so the wheel's copy of llmspell is found first
    (the editable install's finder is not loaded: .pth files only)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    fresh_site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "-q"]
    subprocess.run(
        [*pip, "--target", str(fresh_site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    ours = Path(sysconfig.get_paths()["purelib"])
    (fresh_site / "zz_project_deps.pth").write_text(f"{ours}\n")
    return python
