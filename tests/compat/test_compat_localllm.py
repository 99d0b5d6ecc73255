"""`LocalLLM` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is there,
takes the documented arguments (the appendix's examples run as written) and returns the
documented fields — against a fake Ollama server speaking Ollama's native API; Candle reports
why it is unavailable; see docs/reference/compatibility.md."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from compat_helpers import run
from fakes.ollama_server import VERSION, FakeOllama

from llmspell.runtime import ScriptError, ScriptRuntime, load_config


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def local(isolated_env: Path, ollama: FakeOllama) -> Iterator[ScriptRuntime]:
    """Lua with a provider of type ollama whose base URL is the fake's `/v1`."""
    config = load_config(
        profile="memory",
        env={},
        overrides={
            "providers.local.type": "ollama",
            "providers.local.base_url": f"{ollama.url}/v1",
        },
    ).config
    rt = ScriptRuntime.with_engine(config, "lua")
    try:
        yield rt
    finally:
        rt.close()


def test_every_appendix_function_is_a_function(lua: ScriptRuntime) -> None:
    for name in ("status", "list", "pull", "info"):
        assert run(lua, f"return type(LocalLLM.{name})") == "function", name


def test_status_reports_the_running_server_and_candle_with_its_reason(
    local: ScriptRuntime,
) -> None:
    status = run(local, "return LocalLLM.status()")
    assert status["ollama"]["running"] is True
    assert status["ollama"]["models"] == 1
    assert status["ollama"]["version"] == VERSION
    assert "error" not in status["ollama"]  # nil fields are absent in Lua
    assert status["candle"]["ready"] is False
    assert status["candle"]["models"] == 0
    assert status["candle"]["error"].startswith("Candle is not available: ")


def test_status_without_an_ollama_provider_says_how_to_configure_one(lua: ScriptRuntime) -> None:
    status = run(lua, "return LocalLLM.status()")
    assert status["ollama"]["running"] is False
    assert "no provider of type 'ollama' is configured" in status["ollama"]["error"]


def test_list_all_and_by_backend_return_the_documented_fields(local: ScriptRuntime) -> None:
    models, ollama_models = run(local, 'return LocalLLM.list(), LocalLLM.list("ollama")')
    assert models == ollama_models
    (model,) = models
    assert model["id"] == "llama3.1:8b"
    assert model["backend"] == "ollama"
    assert model["size_bytes"] == 4_920_753_328
    assert model["quantization"] == "Q4_K_M"
    assert model["modified_at"] == 1735787045  # 2025-01-02T03:04:05Z as Unix seconds
    date = run(local, 'return os.date("!%Y-%m-%d", LocalLLM.list()[1].modified_at)')
    assert date == "2025-01-02"


def test_list_candle_and_an_unknown_backend_are_refused_with_the_reason(
    local: ScriptRuntime,
) -> None:
    with pytest.raises(ScriptError) as info:
        run(local, 'LocalLLM.list("candle")')
    assert "LocalLLM.list: Candle is not available" in info.value.evalue
    with pytest.raises(ScriptError) as info:
        run(local, 'LocalLLM.list("vllm")')
    assert "LocalLLM.list: backend must be one of ollama, candle, got 'vllm'" in info.value.evalue


def test_without_an_ollama_provider_list_pull_info_say_why(lua: ScriptRuntime) -> None:
    for code in ("LocalLLM.list()", 'LocalLLM.pull("x@ollama")', 'LocalLLM.info("x")'):
        with pytest.raises(ScriptError) as info:
            run(lua, code)
        assert "no provider of type 'ollama' is configured" in info.value.evalue, code


def test_pull_downloads_and_reports_progress_fields(
    local: ScriptRuntime, ollama: FakeOllama
) -> None:
    progress = run(local, 'return LocalLLM.pull("tinyllama@ollama")')
    assert progress["model_id"] == "tinyllama"
    assert progress["status"] == "complete"
    assert progress["percent_complete"] == 100.0
    assert progress["bytes_downloaded"] == progress["bytes_total"] == 637_700_138
    assert "tinyllama:latest" in ollama.models
    assert run(local, "return #LocalLLM.list()") == 2


def test_a_pull_the_server_refuses_is_failed_with_its_error(local: ScriptRuntime) -> None:
    progress = run(local, 'return LocalLLM.pull("nonesuch:1b")')
    assert progress["status"] == "failed"
    assert progress["error"] == "pull model manifest: file does not exist"


def test_pull_from_candle_says_it_is_unavailable(local: ScriptRuntime) -> None:
    with pytest.raises(ScriptError) as info:
        run(local, 'LocalLLM.pull("mistral:7b@candle")')
    assert "LocalLLM.pull: Candle is not available" in info.value.evalue


def test_info_returns_the_documented_fields(local: ScriptRuntime) -> None:
    info = run(local, 'return LocalLLM.info("llama3.1:8b")')
    assert info["id"] == "llama3.1:8b"
    assert info["backend"] == "ollama"
    assert info["size_bytes"] == 4_920_753_328
    assert info["format"] == "gguf"
    assert info["loaded"] is True
    assert info["parameter_count"] == 8_030_261_248
    assert info["quantization"] == "Q4_K_M"


def test_info_of_a_model_the_server_lacks_says_how_to_pull_it(local: ScriptRuntime) -> None:
    with pytest.raises(ScriptError) as info:
        run(local, 'LocalLLM.info("phi3@ollama")')
    assert "model 'phi3' is not on the Ollama server" in info.value.evalue
    assert 'LocalLLM.pull("phi3@ollama")' in info.value.evalue


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ('LocalLLM.pull("@ollama")', "LocalLLM.pull: spec must be name[:tag][@backend]"),
        ('LocalLLM.info("llama@")', "LocalLLM.info: spec must be name[:tag][@backend]"),
        ("LocalLLM.pull(3)", "LocalLLM.pull: spec must be a string, got integer"),
        ("LocalLLM.list(true)", "LocalLLM.list: backend must be a string, got boolean"),
    ],
)
def test_bad_arguments_name_the_function(local: ScriptRuntime, code: str, message: str) -> None:
    with pytest.raises(ScriptError) as info:
        run(local, code)
    assert message in info.value.evalue


def test_an_unreachable_server_is_reported_by_status_and_refused_by_list(
    isolated_env: Path,
) -> None:
    with FakeOllama() as gone:
        url = gone.url
    config = load_config(
        profile="memory",
        env={},
        overrides={"providers.local.type": "ollama", "providers.local.base_url": url},
    ).config
    rt = ScriptRuntime.with_engine(config, "lua")
    try:
        status = run(rt, "return LocalLLM.status()")
        assert status["ollama"]["running"] is False
        assert f"Ollama at {url} is not reachable" in status["ollama"]["error"]
        with pytest.raises(ScriptError) as info:
            run(rt, "LocalLLM.list()")
        assert "no local backend is available: Ollama at" in info.value.evalue
    finally:
        rt.close()
