"""What each engine says about itself — banner text, time limit, sandbox — comes from that
engine and its own config section, never from the other engine's."""

from __future__ import annotations

import pytest
from runtime_helpers import MakeRuntime

BUSY_HALF_SECOND = {
    "lua": "local t = os.clock() while os.clock() - t < 0.5 do end",
    "python": "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass",
}
OTHER = {"lua": "python", "python": "lua"}


@pytest.mark.parametrize(("engine", "language"), [("lua", "Lua 5.4"), ("python", "Python")])
def test_the_banner_names_the_running_engine(
    make_runtime: MakeRuntime, engine: str, language: str
) -> None:
    banner = make_runtime(engine).banner
    assert f" - {language} engine, storage: memory, tenant: default" in banner


@pytest.mark.timeout(30)
def test_an_engine_ignores_the_other_engines_time_limit(
    make_runtime: MakeRuntime, engine: str
) -> None:
    rt = make_runtime(engine, **{f"engines__{OTHER[engine]}__timeout_s": 0.2})
    rt.execute(BUSY_HALF_SECOND[engine])


@pytest.mark.parametrize(("engine", "trusted"), [("lua", False), ("python", True)])
def test_only_lua_reads_the_lua_security_setting(
    make_runtime: MakeRuntime, engine: str, trusted: bool
) -> None:
    assert make_runtime(engine, engines__lua__security="safe")._engine.trusted is trusted
    assert make_runtime(engine, engines__lua__security="trusted")._engine.trusted is True
