"""Kernelspec install / list / uninstall into a temporary Jupyter prefix."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager

from llmspell.kernel.install import install, list_installed, uninstall


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    return tmp_path


def _specs(prefix: Path) -> KernelSpecManager:
    """Only the prefix's kernels: the developer's own installs stay out of sight and untouched."""
    return KernelSpecManager(kernel_dirs=[str(prefix / "share" / "jupyter" / "kernels")])


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_install_writes_both_specs_with_this_interpreter(prefix: Path) -> None:
    paths = install(prefix=str(prefix))
    kernels = prefix / "share" / "jupyter" / "kernels"
    assert sorted(Path(p).resolve() for p in paths) == [
        (kernels / "llmspell").resolve(),
        (kernels / "llmspell-python").resolve(),
    ]
    lua = json.loads((kernels / "llmspell" / "kernel.json").read_text())
    assert lua == {
        "argv": [sys.executable, "-m", "llmspell.kernel", "-f", "{connection_file}"],
        "display_name": "llmspell (Lua)",
        "language": "lua",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }
    py = json.loads((kernels / "llmspell-python" / "kernel.json").read_text())
    assert py["argv"][-2:] == ["--engine", "python"]
    assert (py["display_name"], py["language"]) == ("llmspell (Python)", "python")
    for name in ("llmspell", "llmspell-python"):
        for size in (32, 64):
            assert _png_size(kernels / name / f"logo-{size}x{size}.png") == (size, size)


@pytest.mark.parametrize("name", ["llmspell", "llmspell-python"])
def test_name_installs_exactly_that_spec_with_its_env(prefix: Path, name: str) -> None:
    install(prefix=str(prefix), name=name, env={"LLMSPELL_PROFILE": "memory"})
    spec = json.loads((prefix / "share/jupyter/kernels" / name / "kernel.json").read_text())
    assert spec["env"] == {"LLMSPELL_PROFILE": "memory"}
    assert (spec["argv"][-2:] == ["--engine", "python"]) == (name == "llmspell-python")
    assert set(list_installed(_specs(prefix))) == {name}


def test_an_unknown_name_is_refused_and_nothing_is_installed(prefix: Path) -> None:
    with pytest.raises(ValueError, match="unknown kernelspec 'bogus'; choose llmspell or"):
        install(prefix=str(prefix), name="bogus")
    assert list_installed(_specs(prefix)) == {}


def test_uninstall_from_a_location_removes_that_copy_only(
    prefix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "user-jupyter"))
    install(prefix=str(prefix))
    install(user=True, name="llmspell")
    user_copy = tmp_path / "user-jupyter" / "kernels" / "llmspell"
    assert user_copy.is_dir()
    removed = uninstall(user=True)
    assert [Path(p).resolve() for p in removed] == [user_copy.resolve()]
    assert set(list_installed(_specs(prefix))) == {"llmspell", "llmspell-python"}
    assert uninstall(prefix=str(prefix), name="llmspell-python") == [
        str(prefix / "share" / "jupyter" / "kernels" / "llmspell-python")
    ]
    assert set(list_installed(_specs(prefix))) == {"llmspell"}


def test_list_then_uninstall_removes_only_llmspell_specs(prefix: Path) -> None:
    install(prefix=str(prefix))
    other = prefix / "share" / "jupyter" / "kernels" / "other"
    other.mkdir()
    (other / "kernel.json").write_text(json.dumps({"argv": ["x"], "display_name": "x"}))
    assert set(list_installed(_specs(prefix))) == {"llmspell", "llmspell-python"}
    removed = uninstall(manager=_specs(prefix))
    assert len(removed) == 2
    assert list_installed(_specs(prefix)) == {}
    assert other.exists()
    assert uninstall(manager=_specs(prefix)) == []


def test_install_locations_are_exclusive() -> None:
    with pytest.raises(ValueError, match="at most one"):
        install(user=True, prefix="/tmp/x")
