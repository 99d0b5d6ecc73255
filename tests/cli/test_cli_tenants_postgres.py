"""Two `llmspell run` processes as different tenants against one PostgreSQL (RLS on)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WRITE = (
    'State.save("global", "secret", "of " .. Tenant.id())\nprint(State.load("global", "secret"))'
)
READ = (
    'print(State.load("global", "secret"), #State.list_keys("global"), '
    'State.exists("global", "secret"))'
)


def run_as(tenant: str, code: str, overrides: dict[str, Any], tmp_path: Path) -> str:
    script = tmp_path / f"{tenant}-{abs(hash(code))}.lua"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    env.update(
        {
            "LLMSPELL_TENANCY__TENANT_ID": tenant,
            "LLMSPELL_STORAGE__BACKEND": "postgres",
            "LLMSPELL_STORAGE__AUTO_UPGRADE": "false",
            "LLMSPELL_STORAGE__POSTGRES__URL": overrides["storage.postgres.url"],
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
        }
    )
    llmspell = Path(sys.executable).parent / "llmspell"
    proc = subprocess.run(
        [str(llmspell), "run", str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_tenant_b_run_sees_nothing_of_tenant_a_and_a_still_reads_its_own(
    pg_config_overrides: dict[str, Any], unique_tenant: str, tmp_path: Path
) -> None:
    tenant_a, tenant_b = f"{unique_tenant}-a", f"{unique_tenant}-b"
    assert run_as(tenant_a, WRITE, pg_config_overrides, tmp_path) == f"of {tenant_a}"
    assert run_as(tenant_b, READ, pg_config_overrides, tmp_path) == "nil\t0\tfalse"
    assert run_as(tenant_a, READ, pg_config_overrides, tmp_path) == f"of {tenant_a}\t1\ttrue"
