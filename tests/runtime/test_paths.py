"""`resolve_allowed_path`: the working directory and `tools.allowed_paths` only, decided on the
real path (symlinks, `..`, `~` resolved first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell.runtime.config import load_config, with_overrides
from llmspell.runtime.errors import InvalidArgument
from llmspell.runtime.paths import allowed_roots, resolve_allowed_path


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    inside = tmp_path / "inside"
    outside = tmp_path / "outside"
    for directory in (inside, outside):
        directory.mkdir()
        (directory / "f.txt").write_text(directory.name)
    (inside / "to-outside").symlink_to(outside / "f.txt")
    (inside / "dir-outside").symlink_to(outside)
    (outside / "to-inside").symlink_to(inside / "f.txt")
    return {"inside": inside, "outside": outside}


def test_a_path_inside_a_root_resolves_to_its_real_path(tree: dict[str, Path]) -> None:
    inside = tree["inside"]
    assert resolve_allowed_path(str(inside / "f.txt"), [inside]) == (inside / "f.txt").resolve()
    linked = resolve_allowed_path(str(tree["outside"] / "to-inside"), [inside])
    assert linked == (inside / "f.txt").resolve(), "a link into a root is followed"


@pytest.mark.parametrize(
    "relative", ["../outside/f.txt", "to-outside", "dir-outside/f.txt", "sub/../../outside/f.txt"]
)
def test_links_and_dotdot_leading_out_are_refused(tree: dict[str, Path], relative: str) -> None:
    with pytest.raises(InvalidArgument, match="outside the working directory"):
        resolve_allowed_path(str(tree["inside"] / relative), [tree["inside"]])


@pytest.mark.parametrize(
    ("path", "message"),
    [("", "non-empty"), ("a\x00b", "NUL bytes"), (3, "must be a string, got integer")],
)
def test_bad_paths_are_refused_naming_the_problem(path: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        resolve_allowed_path(path, [Path.cwd()])


def test_the_roots_are_the_working_directory_then_the_allowed_paths(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    config = with_overrides(
        load_config(profile="memory", env={}).config, {"tools.allowed_paths": ["~/data", "/srv"]}
    )
    assert allowed_roots(config) == [tmp_path, Path("~/data").expanduser(), Path("/srv")]
    relative = resolve_allowed_path("x.txt", allowed_roots(config))
    assert relative == (tmp_path / "x.txt").resolve()
