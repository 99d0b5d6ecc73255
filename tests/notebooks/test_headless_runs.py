"""Notebooks executed headless (`jupyter nbconvert --execute`, which drops pager payloads and
cannot answer input) show what a reader expects: help text, and on a data directory that cannot
be written, an error in each storage cell while every other cell still runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
JUPYTER = Path(sys.executable).parent / "jupyter"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prefix = tmp_path_factory.mktemp("prefix")
    llmspell = Path(sys.executable).parent / "llmspell"
    subprocess.run([str(llmspell), "kernel", "install", "--prefix", str(prefix)], check=True)
    return prefix / "share" / "jupyter"


def execute(notebook: Path, out_dir: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    """Run `notebook` as the quick start does; the executed cells. A hang fails after 60 s
    (a run takes seconds; the margin is for a busy machine, where starting Jupyter is slow)."""
    subprocess.run(
        [str(JUPYTER), "nbconvert", "--to", "notebook", "--execute", "--allow-errors",
         "--ExecutePreprocessor.kernel_name=llmspell", "--ExecutePreprocessor.timeout=60",
         "--output-dir", str(out_dir), str(notebook)],
        env=env, capture_output=True, check=True, timeout=180,
    )  # fmt: skip
    executed = json.loads((out_dir / notebook.name).read_text(encoding="utf-8"))
    return [cell for cell in executed["cells"] if cell["cell_type"] == "code"]


def headless_env(kernel_path: Path, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    env.update(
        {
            "JUPYTER_PATH": str(kernel_path),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "IPYTHONDIR": str(home / "ipython"),
        }
    )
    env.update(extra)
    return env


def text_of(output: dict[str, Any]) -> str:
    if output["output_type"] == "stream":
        return "".join(output["text"])
    if output["output_type"] == "error":
        return f"{output['ename']}: {output['evalue']}"
    return "".join(output["data"]["text/plain"])


def test_an_unwritable_data_dir_fails_only_the_storage_cells(
    kernel_path: Path, tmp_path: Path
) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "llmspell", "display_name": "llmspell (Lua)"}
    sources = [
        'print("hello")',
        'State.save("global", "k", 1)',
        "1 + 1",
        "help(State.load)",
        'State.load("global", "k")',
    ]
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    path = tmp_path / "storage.ipynb"
    nbformat.write(notebook, path)

    env = headless_env(kernel_path, tmp_path, XDG_DATA_HOME="/proc/nope")
    cells = execute(path, tmp_path / "out", env)

    outputs = [[text_of(o) for o in cell["outputs"]] for cell in cells]
    assert outputs[0] == ["hello\n"]
    for storage_cell in (outputs[1], outputs[4]):
        (error,) = storage_cell
        assert error.startswith("ApiError: State.")
        assert "/proc/nope/llmspell/llmspell.db" in error
        assert "storage.path" in error
    assert outputs[2] == ["2"]
    (help_text,) = outputs[3]
    assert help_text.startswith("State.load(scope, key)\n")


def test_the_quick_start_notebook_executed_copy_shows_the_help_text(
    kernel_path: Path, tmp_path: Path
) -> None:
    cells = execute(ROOT / "notebooks" / "01-quickstart.ipynb", tmp_path / "out", headless_env(kernel_path, tmp_path))
    (help_cell,) = [cell for cell in cells if "".join(cell["source"]).startswith("help(")]
    (output,) = help_cell["outputs"]
    assert output["output_type"] == "display_data"
    assert text_of(output).startswith("State.load(scope, key)\n")
    assert all(o["output_type"] != "error" for cell in cells for o in cell["outputs"])
