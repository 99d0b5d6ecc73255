"""What each engine says about itself — banner text, time limit, sandbox — comes from that
engine and its own config section, never from the other engine's."""

from __future__ import annotations

from pathlib import Path

import pytest
from runtime_helpers import MakeRuntime, error_of, memory_config

from llmspell.runtime import ScriptError
from llmspell.runtime.config import ConfigError

# half a second of CPU time, then the seconds it took (CPU time: at least 0.5 however loaded)
BUSY_HALF_SECOND = {
    "lua": "local t = os.clock() while os.clock() - t < 0.5 do end return os.clock() - t",
    "python": "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass\n"
    "time.process_time() - t",
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
    assert rt.execute(BUSY_HALF_SECOND[engine]).value >= 0.5, "it ran past the other's limit"
    limited = make_runtime(OTHER[engine], **{f"engines__{OTHER[engine]}__timeout_s": 0.2})
    assert error_of(limited, BUSY_HALF_SECOND[OTHER[engine]]).ename == "TimeoutError"


@pytest.mark.parametrize(("engine", "trusted"), [("lua", False), ("python", True)])
def test_only_lua_reads_the_lua_security_setting(
    make_runtime: MakeRuntime, engine: str, trusted: bool
) -> None:
    assert make_runtime(engine, engines__lua__security="safe")._engine.trusted is trusted
    assert make_runtime(engine, engines__lua__security="trusted")._engine.trusted is True


def test_a_deployment_can_turn_the_python_engine_off(make_runtime: MakeRuntime) -> None:
    with pytest.raises(ValueError, match=r"the Python engine is disabled \(engines.python.enabled"):
        make_runtime("python", engines__python__enabled=False)
    lua = make_runtime("lua", engines__python__enabled=False)
    assert lua.execute("return 1").value == 1


def test_python_cannot_be_the_default_engine_when_it_is_off() -> None:
    expected = r"default_engine is 'python' but engines\.python\.enabled"
    with pytest.raises(ConfigError, match=expected):
        memory_config({"default_engine": "python", "engines.python.enabled": False})


def test_the_python_engine_can_open_another_tenants_data(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    # Why a deployment with untrusted scripts turns it off: no sandbox keeps a Python script in
    # its own tenant (docs/user-guide/09-security-model.md); the Lua engine cannot do this.
    shared = {"storage__backend": "sqlite", "storage__path": str(tmp_path / "shared.db")}
    a = make_runtime("lua", tenancy__tenant_id="a", **shared)
    a.execute("State.save('g', 'k', 'of tenant a')")
    b = make_runtime("python", tenancy__tenant_id="b", **shared)
    assert b.execute("State.load('g', 'k')").value is None
    code = "State._ctx.infrastructure.storage.for_tenant('a').kv.get('g', 'k')"
    assert b.execute(code).value == "of tenant a"
    assert a.execute("return State._ctx").value is None  # Lua scripts have no such route


@pytest.mark.parametrize("engine", ["lua", "python"])
def test_an_interrupt_while_the_host_prepares_a_cell_stops_it_and_an_earlier_one_is_stale(
    make_runtime: MakeRuntime, engine: str
) -> None:
    from llmspell.runtime.hooks import HookRegistry

    rt = make_runtime(engine)
    rt.interrupt()  # between cells: stale by the time the next one starts
    assert rt.execute("x = 40").value is None
    hooks = rt.infrastructure.get(HookRegistry)
    # a host-side step before any script code runs (here a hook) gets the interrupt
    handle = hooks.register("BeforeCodeExecution", lambda context: rt.interrupt())
    with pytest.raises(ScriptError) as info:
        rt.execute("x = x + 1")
    assert info.value.ename == "KeyboardInterrupt"
    hooks.unregister(handle.id)
    assert rt.execute("x + 2" if engine == "python" else "return x + 2").value == 42
