"""The wheel: only `llmspell/...` at the top, with the kernelspecs, the Lua prelude and the
migrations inside; installed into a fresh venv, every subpackage imports from there.

The build uses pip's build isolation: the project venv's setuptools cannot build wheels on its
own (no `bdist_wheel` without the `wheel` package), and pyproject pins its own build backend.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

NOT_SOURCES = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A wheel built from a copy of the checkout (the build never writes into the repo)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = dist.glob("llmspell-*.whl")
    yield built


def names_in(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_wheel_holds_only_the_llmspell_namespace(wheel: Path) -> None:
    top = {name.split("/", 1)[0] for name in names_in(wheel)}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert top - dist_info == {"llmspell"}


def test_wheel_maps_the_top_level_folders_under_llmspell(wheel: Path) -> None:
    names = set(names_in(wheel))
    for package in ("kernel", "runtime", "storage", "migrations", "kernelspec"):
        assert f"llmspell/{package}/__init__.py" in names


def test_wheel_includes_data_files(wheel: Path) -> None:
    names = set(names_in(wheel))
    for spec in ("llmspell", "llmspell-python"):
        for data in ("kernel.json", "logo-32x32.png", "logo-64x64.png"):
            assert f"llmspell/kernelspec/{spec}/{data}" in names
    assert "llmspell/runtime/engines/lua/prelude.lua" in names
    assert "llmspell/runtime/engines/lua/stdlib.txt" in names  # help(print)
    assert "llmspell/migrations/env.py" in names
    assert "llmspell/migrations/script.py.mako" in names
    revisions = [n for n in names if n.startswith("llmspell/migrations/versions/0")]
    assert revisions, "no alembic revisions in the wheel"
    assert "llmspell/py.typed" in names


def test_wheel_installs_into_a_fresh_venv_and_imports(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    fresh_site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(fresh_site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # Dependencies come from this venv, appended after the fresh site-packages so the wheel's
    # copy of llmspell is found first (the editable install's finder is not loaded: .pth only).
    ours = Path(sysconfig.get_paths()["purelib"])
    (fresh_site / "zz_project_deps.pth").write_text(f"{ours}\n")
    probe = (
        "import llmspell, llmspell.kernel, llmspell.runtime, llmspell.storage, "
        "llmspell.migrations, llmspell.kernelspec\n"
        "from llmspell.runtime import ScriptRuntime, load_config\n"
        "rt = ScriptRuntime(load_config(profile='memory', env={}).config)\n"
        "print(llmspell.__file__)\n"
        "print(rt.execute('return JSON.stringify({1, 2})').value)\n"
    )
    out = subprocess.run(
        [str(python), "-I", "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    location, result = out.stdout.splitlines()
    assert Path(location).is_relative_to(venv)
    assert result == "[1,2]"
