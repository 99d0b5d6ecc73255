"""KernelHistory: tail, range, search over sessions stored in one SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell.kernel.history import KernelHistory
from llmspell.runtime import LLMSpellConfig


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "hist" / "kernel_history.db"


def test_sessions_are_numbered_and_history_survives_reopening(db: Path) -> None:
    first = KernelHistory(db, "lua")
    first.store(1, "x = 1")
    first.store(2, "x + 1", "2")
    first.close()
    second = KernelHistory(db, "lua")
    second.store(1, "print(x)")
    assert isinstance(first.session, int)
    assert second.session == first.session + 1
    assert second.tail(3) == [
        (first.session, 1, "x = 1"),
        (first.session, 2, "x + 1"),
        (second.session, 1, "print(x)"),
    ]
    assert second.tail(1, output=True) == [(second.session, 1, ("print(x)", None))]
    assert second.range(first.session, 2, output=True) == [(first.session, 2, ("x + 1", "2"))]
    second.close()


def test_range_is_half_open_and_relative_sessions_count_back(db: Path) -> None:
    old = KernelHistory(db, "lua")
    old.store(1, "a")
    old.close()
    hist = KernelHistory(db, "python")
    for line, source in enumerate(["b", "c", "d"], start=1):
        hist.store(line, source)
    assert hist.range(hist.session, 2, 3) == [(hist.session, 2, "c")]
    assert hist.range(0, 2) == [(hist.session, 2, "c"), (hist.session, 3, "d")]
    assert hist.range(-1) == [(old.session, 1, "a")]
    assert hist.range(-2) == []


def test_search_is_glob_with_unique_and_last_n(db: Path) -> None:
    hist = KernelHistory(db, "lua")
    sources = ["x = 1", "print(x)", "x = 1", "y = 2", "x = 1"]
    for line, source in enumerate(sources, start=1):
        hist.store(line, source)
    s = hist.session
    assert hist.search("x = *") == [(s, 1, "x = 1"), (s, 3, "x = 1"), (s, 5, "x = 1")]
    assert hist.search("x = *", unique=True) == [(s, 5, "x = 1")]
    assert hist.search("*", n=2) == [(s, 4, "y = 2"), (s, 5, "x = 1")]
    assert hist.search("*x*", unique=True) == [(s, 2, "print(x)"), (s, 5, "x = 1")]
    # GLOB is case-sensitive and anchored, unlike LIKE.
    assert hist.search("X*") == []
    assert hist.search("1") == []


def test_tail_defaults_to_ten_entries(db: Path) -> None:
    hist = KernelHistory(db, "lua")
    for line in range(1, 13):
        hist.store(line, f"c{line}")
    assert [entry[1] for entry in hist.tail(None)] == list(range(3, 13))


def test_history_file_comes_from_config_or_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    default = LLMSpellConfig().resolved_history_file()
    assert default == tmp_path / "xdg" / "llmspell" / "kernel_history.db"
    configured = LLMSpellConfig.model_validate({"kernel": {"history_file": str(tmp_path / "h.db")}})
    assert configured.resolved_history_file() == tmp_path / "h.db"


def test_an_unwritable_history_file_falls_back_to_memory_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    history = KernelHistory(Path("/proc/nope/kernel_history.db"), "lua")
    with caplog.at_level("WARNING", logger="llmspell.kernel.history"):
        history.store(1, "x = 1")
        history.store(2, "print(x)")
    assert [entry[2] for entry in history.tail(5)] == ["x = 1", "print(x)"]
    assert "keeping this session's history in memory only" in caplog.text
    assert "/proc/nope/kernel_history.db" in caplog.text
    history.close()
