"""The wheel: only `llmspell/...` at the top, with the kernelspecs, the Lua prelude and the
migrations inside; installed into a fresh venv, every subpackage imports from there.

The build uses pip's build isolation: the project venv's setuptools cannot build wheels on its
own (no `bdist_wheel` without the `wheel` package), and pyproject pins its own build backend.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from wheel_helpers import build_wheel, install_wheel

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
    yield build_wheel(source, base / "dist")


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


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed (dependencies from this venv); its python."""
    return install_wheel(wheel, tmp_path_factory.mktemp("installed") / "venv")


def test_wheel_installs_into_a_fresh_venv_and_imports(installed: Path, tmp_path: Path) -> None:
    python = installed
    venv = python.parents[1]
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


def source_modules() -> set[str]:
    """Every module of the source tree as `llmspell.*` (the top-level folders through the
    links in llmspell/)."""
    found = set()
    for folder, dirs, files in os.walk(ROOT / "llmspell", followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for file in files:
            if file.endswith(".py"):
                parts = (Path(folder) / file).relative_to(ROOT).with_suffix("").parts
                found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def test_the_package_list_comes_from_discovery() -> None:
    # a sub-package is found by setuptools, not named in pyproject.toml: a new folder can not
    # silently drop out of the wheel
    text = (ROOT / "pyproject.toml").read_text()
    assert "[tool.setuptools.packages.find]" in text
    assert "package-dir" not in text
    for folder in ("kernel", "runtime", "storage", "migrations", "kernelspec"):
        link = ROOT / "llmspell" / folder
        assert link.is_symlink() and link.resolve() == ROOT / folder


def test_every_source_module_is_in_the_wheel(wheel: Path) -> None:
    names = {n.removesuffix(".py").replace("/", ".") for n in names_in(wheel) if n.endswith(".py")}
    names = {n.removesuffix(".__init__") for n in names}
    missing = source_modules() - names
    assert not missing, f"not in the wheel: {sorted(missing)}"


def test_every_module_imports_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    # migrations.env is alembic's script (it runs migrations when imported); __main__ runs the CLI
    skipped = {"llmspell.migrations.env", "llmspell.__main__"}
    modules = sorted(source_modules() - skipped)
    assert len(modules) > 150
    probe = (
        "import importlib, sys\n"
        "from pathlib import Path\n"
        "venv = Path(sys.argv[1])\n"
        "for name in sys.argv[2:]:\n"
        "    module = importlib.import_module(name)\n"
        "    assert Path(module.__file__).is_relative_to(venv), (name, module.__file__)\n"
        "print('imported', len(sys.argv) - 2)\n"
    )
    out = subprocess.run(
        [str(installed), "-I", "-c", probe, str(installed.parents[1]), *modules],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == f"imported {len(modules)}"
