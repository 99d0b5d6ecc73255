"""`resolve_allowed_path`: the one allowed-paths rule (file tool, CSV tool, Artifact.store_file)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmspell.runtime.tools.paths import PathNotAllowed, resolve_allowed_path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    allowed = tmp_path / "allowed"
    (allowed / "sub").mkdir(parents=True)
    (allowed / "sub" / "f.txt").write_text("x")
    (tmp_path / "outside.txt").write_text("secret")
    return allowed


def test_paths_inside_a_root_resolve_to_absolute_paths(root: Path) -> None:
    assert resolve_allowed_path(str(root / "sub" / "f.txt"), [str(root)]) == root / "sub" / "f.txt"
    assert resolve_allowed_path("sub/f.txt", [str(root)], base=root) == root / "sub" / "f.txt"
    assert resolve_allowed_path(str(root), [str(root)]) == root
    assert resolve_allowed_path(str(root / "new.txt"), [str(root)]) == root / "new.txt"


def test_dot_dot_out_of_the_root_is_refused(root: Path) -> None:
    with pytest.raises(PathNotAllowed, match=r"outside tools\.allowed_paths"):
        resolve_allowed_path(str(root / "sub" / ".." / ".." / "outside.txt"), [str(root)])
    with pytest.raises(PathNotAllowed, match="outside"):
        resolve_allowed_path("../outside.txt", [str(root)], base=root)


def test_an_absolute_path_outside_is_refused(root: Path) -> None:
    with pytest.raises(PathNotAllowed, match="/etc/passwd"):
        resolve_allowed_path("/etc/passwd", [str(root)])


def test_a_symlink_inside_pointing_outside_is_refused(root: Path) -> None:
    os.symlink(root.parent / "outside.txt", root / "link.txt")
    os.symlink(root.parent, root / "dirlink")
    with pytest.raises(PathNotAllowed, match="resolved to"):
        resolve_allowed_path(str(root / "link.txt"), [str(root)])
    with pytest.raises(PathNotAllowed):
        resolve_allowed_path(str(root / "dirlink" / "outside.txt"), [str(root)])


def test_a_root_that_is_a_prefix_of_another_name_does_not_allow_it(root: Path) -> None:
    sibling = root.parent / "allowed-but-not"
    sibling.mkdir()
    with pytest.raises(PathNotAllowed):
        resolve_allowed_path(str(sibling / "x"), [str(root)])


@pytest.mark.parametrize("bad", ["", "a\x00b", 3, None])
def test_nul_bytes_empty_and_non_string_paths_are_refused(root: Path, bad: object) -> None:
    with pytest.raises(PathNotAllowed, match="path must"):
        resolve_allowed_path(bad, [str(root)])


def test_an_empty_allow_list_refuses_everything(root: Path) -> None:
    with pytest.raises(PathNotAllowed, match=r"tools\.allowed_paths is empty"):
        resolve_allowed_path(str(root / "sub" / "f.txt"), [])
