"""benchmarks/load_bench.py runs (briefly, 4 runtimes over 2 tenants) and sees no row of
another tenant."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from llmspell.storage import StorageSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import load_bench


def test_a_short_load_run_reports_figures_and_no_cross_tenant_rows(
    pg_settings: StorageSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = pg_settings.with_changes(pg_pool_min=1, pg_pool_max=2)
    figures = load_bench.run(settings, runtimes=4, tenants=2, duration=4.0)
    assert figures["cross_tenant_rows"] == 0
    assert figures["errors"] == 0, figures["first_error"]
    assert figures["pool"] == {
        "min_size": 1,
        "max_size": 2,
        "pools": 4,
        "server_max_connections": figures["pool"]["server_max_connections"],
    }
    assert figures["pool_requests"] > 0 and figures["throughput_ops_s"] > 0
    assert all(kind["operations"] > 0 for kind in figures["kinds"].values()), figures["kinds"]
    load_bench.print_report(figures)
    out = capsys.readouterr().out
    assert "pool: min_size 1, max_size 2 per runtime (4 pools" in out
    assert "cross-tenant rows seen: 0" in out


def test_more_connections_than_the_server_allows_are_refused(
    pg_settings: StorageSettings,
) -> None:
    with pytest.raises(ValueError, match="lower --pool-max or raise max_connections"):
        load_bench.run(pg_settings.with_changes(pg_pool_max=50), runtimes=32, duration=1.0)
