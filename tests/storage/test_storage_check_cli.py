"""`llmspell storage validate|stats|benchmark` through the argparse group, on every backend."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from ops_helpers import fresh_pg_settings, raw
from sqlalchemy import text

from llmspell import cli_storage
from llmspell.storage import StorageSettings, open_storage


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config, no LLMSPELL_* variables, data under tmp_path."""
    for name in list(os.environ):
        if name.startswith("LLMSPELL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


def run_cli(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="llmspell")
    parser.add_argument("-c", "--config")
    parser.add_argument("--profile")
    cli_storage.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["--config", str(config), *argv])
    code = args.handler(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def configured(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Path, StorageSettings]]:
    """A config file and the same settings, on a database of the test's own."""
    if request.param == "postgres":
        with fresh_pg_settings(request.getfixturevalue("pg_urls")) as settings:
            config = tmp_path / "pg.toml"
            config.write_text(
                '[storage]\nbackend = "postgres"\n[storage.postgres]\n'
                f'url = "{settings.pg_url}"\nadmin_url = "{settings.pg_admin_url}"\n'
            )
            yield config, settings
        return
    db = tmp_path / "state" / "llmspell.db"
    config = tmp_path / "store.toml"
    config.write_text(f'[storage]\nbackend = "{request.param}"\npath = "{db}"\n')
    yield config, StorageSettings(backend=request.param, sqlite_path=str(db))


def test_validate_passes_a_clean_store_and_prints_json_machines_can_read(
    capsys: pytest.CaptureFixture[str], configured: tuple[Path, StorageSettings]
) -> None:
    config, settings = configured
    with open_storage(settings, "a") as storage:
        storage.kv.put("global", "k", 1)
    code, out, _ = run_cli(capsys, config, "storage", "validate")
    assert code == 0 and "no problems found" in out and "keyword_index" in out
    code, out, _ = run_cli(capsys, config, "storage", "validate", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True
    assert {c["name"] for c in report["checks"]} >= {"schema_revision", "artifact_integrity"}


def test_validate_exits_1_on_a_problem_and_names_it(
    capsys: pytest.CaptureFixture[str], configured: tuple[Path, StorageSettings]
) -> None:
    config, settings = configured
    if settings.backend == "memory":
        # Each open of the memory backend is a new database: nothing can be damaged between
        # two commands, so the command's own open is what is checked.
        code, out, _ = run_cli(capsys, config, "storage", "validate", "--component", "kv")
        assert code == 0
        return
    with open_storage(settings, "a") as storage:
        storage.graph.add_entity("Ada", "person", {})
        with raw(storage, "graph", "a") as conn:
            conn.execute(text("UPDATE graph_entities SET valid_to = valid_from"))
    code, out, _ = run_cli(capsys, config, "storage", "validate")
    assert code == 1
    assert "graph_temporal: entity_id" in out and "[tenant a graph_entities]" in out
    assert "1 problems found" in out
    code, out, _ = run_cli(capsys, config, "storage", "validate", "--json")
    assert code == 1 and json.loads(out)["ok"] is False


def test_validate_repair_rebuilds_a_sqlite_keyword_index(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import numpy as np

    from llmspell.storage.components.vectors import NewVector

    db = tmp_path / "v.db"
    config = tmp_path / "v.toml"
    config.write_text(f'[storage]\nbackend = "sqlite"\npath = "{db}"\n')
    with open_storage(StorageSettings(backend="sqlite", sqlite_path=str(db)), "a") as storage:
        storage.vectors.add("docs", "m", [NewVector(np.ones(384), "alpha")])
        with raw(storage, "vectors") as conn:
            conn.execute(text("DELETE FROM vectors_384_fts_docsize"))
    code, out, _ = run_cli(capsys, config, "storage", "validate", "--component", "vectors")
    assert code == 1 and "keyword_index: the keyword index of vectors_384 is out of step" in out
    code, out, _ = run_cli(capsys, config, "storage", "validate", "--repair")
    assert code == 0 and "repaired: keyword index of vectors_384 rebuilt (1 rows)" in out
    code, out, _ = run_cli(capsys, config, "storage", "validate")
    assert code == 0


def test_validate_refuses_an_unknown_component(
    capsys: pytest.CaptureFixture[str], configured: tuple[Path, StorageSettings]
) -> None:
    config, _ = configured
    code, _, err = run_cli(capsys, config, "storage", "validate", "--component", "nope")
    assert code == 1
    assert err.startswith("llmspell storage validate: validate: unknown component 'nope'")


def test_stats_prints_rows_per_tenant_and_component(
    capsys: pytest.CaptureFixture[str], configured: tuple[Path, StorageSettings]
) -> None:
    config, settings = configured
    if settings.backend != "memory":
        with open_storage(settings, "a") as storage:
            storage.kv.put("global", "k", 1)
            storage.for_tenant("b").kv.put("global", "k", 2)
    code, out, _ = run_cli(capsys, config, "storage", "stats", "--json")
    assert code == 0
    usage = json.loads(out)
    if settings.backend == "memory":
        assert usage == []  # a new database on every open
        return
    assert {(u["tenant"], u["component"], u["rows"]) for u in usage} == {
        ("a", "kv", 2),
        ("b", "kv", 2),
    }
    code, out, _ = run_cli(capsys, config, "storage", "stats", "--tenant", "b")
    assert code == 0 and "storage stats" in out and " b " in out and " a " not in out


def test_benchmark_prints_each_operation_beside_the_raw_driver(
    capsys: pytest.CaptureFixture[str], configured: tuple[Path, StorageSettings]
) -> None:
    config, _ = configured
    code, out, _ = run_cli(capsys, config, "storage", "benchmark", "--operations", "5", "--json")
    assert code == 0
    figures = json.loads(out)
    assert len(figures) == 10 and all(f["raw_p50_ms"] > 0 for f in figures)
    code, out, _ = run_cli(
        capsys, config, "storage", "benchmark", "--backend", "memory", "--operations", "3"
    )
    assert code == 0 and "raw driver p50 ms" in out and "recall@10" in out


def test_benchmark_refuses_zero_operations(
    capsys: pytest.CaptureFixture[str], configured: tuple[Path, StorageSettings]
) -> None:
    config, _ = configured
    code, _, err = run_cli(capsys, config, "storage", "benchmark", "--operations", "0")
    assert code == 1 and "operations must be 1-1,000,000, got 0" in err


@pytest.mark.parametrize("command", ["validate", "stats", "benchmark"])
def test_postgres_without_an_owner_login_is_refused_with_the_setting_to_add(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_settings: StorageSettings, command: str
) -> None:
    config = tmp_path / "app-only.toml"
    config.write_text(
        f'[storage]\nbackend = "postgres"\n[storage.postgres]\nurl = "{pg_settings.pg_url}"\n'
    )
    code, out, err = run_cli(capsys, config, "storage", command)
    assert code == 1 and out == ""
    assert f"llmspell storage {command}: {command} needs the owner of the tables (it " in err
    assert "storage.postgres.admin_url" in err
