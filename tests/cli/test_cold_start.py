"""`llmspell run/exec` start from the config cache: without pydantic, SQLAlchemy or numpy when a
script needs none of them, and with a fresh validation whenever an input of the config changed
or the cache is stale or corrupt."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import LLMSPELL, RunCli

from llmspell.runtime.config import user_config_file
from llmspell.runtime.config.cache import (
    MAX_ENTRIES,
    ConfigView,
    LLMSpellConfigView,
    _content_digest,
    cache_file,
    load_config_cached,
)
from llmspell.runtime.config.models import LLMSpellConfig

HEAVY = ("pydantic", "sqlalchemy", "numpy")


def imported_modules(*argv: str, cwd: Path) -> set[str]:
    """The modules `llmspell argv...` imported (from `python -X importtime`)."""
    proc = subprocess.run(
        [str(LLMSPELL), *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
        cwd=cwd,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", proc.stderr, re.M))


def test_exec_from_a_warm_cache_imports_no_pydantic_sqlalchemy_or_numpy(
    isolated_env: Path,
) -> None:
    first = imported_modules("exec", "print(1)", cwd=isolated_env)
    assert "pydantic" in first  # no cache yet: the config is validated
    warm = imported_modules("exec", "print(1)", cwd=isolated_env)
    assert "llmspell.runtime.config.cache" in warm
    heavy = sorted(m for m in warm if m.split(".")[0] in HEAVY)
    assert heavy == [], (
        f"a warm `llmspell exec` imported {heavy[:3]}...: a module on the start path (every "
        "runtime/api/*_api.py is) imports it at module level; import it where it is used"
    )
    # the command groups' modules are imported only for their own commands
    assert {"llmspell.cli_storage", "llmspell.cli_rag", "llmspell.cli_keys"}.isdisjoint(warm)


def test_exec_leaves_what_only_some_calls_of_the_globals_use_unimported(
    isolated_env: Path,
) -> None:
    imported_modules("exec", "print(1)", cwd=isolated_env)  # fills the config cache
    warm = imported_modules("exec", "print(1)", cwd=isolated_env)
    # what a global's module imports on first use, or what only some calls use
    unused = {
        "llmspell.runtime.templates",
        "llmspell.runtime.workflows.manager",
        "llmspell.runtime.workflows.runner",
        "llmspell.runtime.tools.registry",
        "llmspell.runtime.workflows.definition",
        "llmspell.runtime.events",
        "llmspell.runtime.debugging.dumps",
        "re2",
        "subprocess",  # the magics' shell commands
        "difflib",  # "did you mean" of a misspelt name
        "zipfile",  # importlib.resources' readers: the Lua engine reads its files by path
    }
    assert sorted(unused & warm) == [], "imported by a global's module at module level"


def test_exec_imports_no_globals_module_nor_what_magics_hooks_or_tables_use(
    isolated_env: Path,
) -> None:
    imported_modules("exec", "print(1)", cwd=isolated_env)  # fills the caches
    # sys.modules, not -X importtime: the globals' modules are imported with import_module
    listing = (
        "import sys; from llmspell.cli import main; main(['exec', 'print(1)']); "
        "print(' '.join(sys.modules), file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", listing], capture_output=True, text=True, cwd=isolated_env
    )
    assert (proc.returncode, proc.stdout) == (0, "1\n"), proc.stderr
    loaded = set(proc.stderr.split())
    assert "llmspell.runtime.script_runtime" in loaded
    globals_modules = sorted(
        m for m in loaded if m.startswith("llmspell.runtime.api.") and m.endswith("_api")
    )
    assert globals_modules == [], "a global was built for a script that touches none"
    unused = {
        "llmspell.runtime.magics.commands",  # a cell without magics
        "llmspell.runtime.magics.workspace",
        "html",  # no table shown
        "concurrent.futures",  # storage not opened
        "uuid",  # no hook ran
        "platform",
        "dataclasses",  # no dataclass on the start path: it imports inspect, ast and dis
        "inspect",
    }
    assert sorted(unused & loaded) == []


def test_an_in_process_run_leaves_the_collector_as_it_was(cli: RunCli) -> None:
    # main(argv) is not the program: it neither leaves the collector off nor freezes objects
    assert cli("--profile", "memory", "exec", "print(1)").out == "1\n"
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        assert cli("--profile", "memory", "exec", "print(2)").out == "2\n"
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_as_the_program_exec_freezes_what_start_up_made(isolated_env: Path) -> None:
    # frozen, the start-up's objects are skipped by the collections during the script and at
    # exit; what the script makes is still collected
    program = (
        "import gc, sys\n"
        "from llmspell.cli import main\n"
        "sys.argv = ['llmspell', 'exec', 'print(1)']\n"
        "status = main()\n"
        "print(status, gc.isenabled(), gc.get_freeze_count() > 1000, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=isolated_env
    )
    assert (proc.stdout, proc.stderr) == ("1\n", "0 True True\n")


def test_a_script_reaches_the_globals_whose_modules_load_on_first_use(llmspell: RunCli) -> None:
    shown = llmspell(
        "exec",
        "print(#Template.list() > 0, Workflow.sequential ~= nil, Tool.list()[1] ~= nil); "
        'Debug.addModuleFilter("llm*", true); print(Debug.getFilterSummary().total_rules); '
        "print(Debug.dumpCompact({1, 2}), Workflow.types()[1]); "
        'print(type(Event.publish("a.b", {})))',
    )
    assert (shown.code, shown.err) == (0, ""), shown.err
    assert shown.out.splitlines() == ["true\ttrue\ttrue", "1", "{1, 2}\tsequential", "string"]


def test_command_groups_still_parse_before_and_after_global_options(cli: RunCli) -> None:
    for argv in (
        ("storage", "--help"),
        ("--profile", "memory", "rag", "--help"),
        ("-v", "keys", "--help"),
    ):
        with pytest.raises(SystemExit) as stop:
            cli(*argv)
        assert stop.value.code == 0
    assert cli("--profile", "memory", "storage", "schema").code == 0
    listed = subprocess.run([str(LLMSPELL), "--help"], capture_output=True, text=True, timeout=60)
    assert all(group in listed.stdout for group in ("storage", "rag", "keys", "exec"))
    wrong = subprocess.run([str(LLMSPELL), "nonsense"], capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2
    assert "invalid choice: 'nonsense'" in wrong.stderr and "storage" in wrong.stderr


def test_a_script_touching_state_runs_from_the_cache(llmspell: RunCli) -> None:
    assert llmspell("exec", "print(1)").code == 0  # fills the cache
    saved = llmspell(
        "exec", 'State.save("global", "k", {n = 7}); print(State.load("global", "k").n)'
    )
    assert (saved.code, saved.out, saved.err) == (0, "7\n", "")
    again = llmspell("exec", 'print(State.load("global", "k").n)')
    assert again.out == "7\n"


def test_run_and_exec_see_the_cli_time_limit_from_the_cache(llmspell: RunCli) -> None:
    for _ in range(2):  # cold, then warm
        shown = llmspell("exec", 'print(Config.get("engines.lua.timeout_s"))')
        assert shown.out == "300.0\n", shown.err


def test_a_corrupt_cache_is_ignored_and_rewritten(isolated_env: Path) -> None:
    load_config_cached(profile="memory")
    valid = json.loads(cache_file().read_text())
    broken_entry = json.loads(json.dumps(valid))
    del broken_entry["entries"][0]["config"]["f"]["storage"]
    not_a_section = json.loads(json.dumps(valid))
    not_a_section["entries"][0]["config"] = {"d": {}}
    garbage = [
        "{not json",
        "\xff",
        json.dumps([1, 2]),
        json.dumps({"format": 2, "entries": "no"}),
        json.dumps({"format": 1, "entries": valid["entries"]}),  # an older layout
        json.dumps(broken_entry),
        json.dumps(not_a_section),
    ]
    for text in garbage:
        cache_file().write_text(text, encoding="latin-1")
        loaded = load_config_cached(profile="memory")
        assert isinstance(loaded.config, LLMSpellConfig), text  # validated afresh
        assert loaded.config.storage.backend == "memory"
        assert isinstance(load_config_cached(profile="memory").config, LLMSpellConfigView), text


def test_a_cache_of_other_inputs_is_stale(isolated_env: Path) -> None:
    load_config_cached(profile="memory")
    data = json.loads(cache_file().read_text())
    data["entries"][0]["config"]["f"]["storage"]["f"]["backend"] = "postgres"
    data["entries"][0]["key"] = "0" * 64  # written for some other inputs
    data["entries"][0]["digest"] = _content_digest(data["entries"][0]["config"])
    cache_file().write_text(json.dumps(data))
    loaded = load_config_cached(profile="memory")
    assert isinstance(loaded.config, LLMSpellConfig)
    assert loaded.config.storage.backend == "memory"


def test_alternating_between_projects_stays_cached_up_to_the_limit(
    isolated_env: Path,
) -> None:
    projects = []
    for i in range(MAX_ENTRIES + 1):
        project = isolated_env / f"p{i}"
        project.mkdir()
        (project / "llmspell.toml").write_text(f"[rag]\nchunk_size = {100 + i}\n")
        projects.append(project)
    for i, project in enumerate(projects[:2]):
        assert load_config_cached(cwd=project).config.rag.chunk_size == 100 + i
    for i, project in enumerate(projects[:2]):  # both are answered from the cache
        loaded = load_config_cached(cwd=project)
        assert isinstance(loaded.config, LLMSpellConfigView)
        assert loaded.config.rag.chunk_size == 100 + i
    for project in projects[2:]:
        load_config_cached(cwd=project)
    assert len(json.loads(cache_file().read_text())["entries"]) == MAX_ENTRIES
    # the least recently validated one went first
    assert isinstance(load_config_cached(cwd=projects[0]).config, LLMSpellConfig)
    assert isinstance(load_config_cached(cwd=projects[-1]).config, LLMSpellConfigView)


@pytest.mark.parametrize("where", ["cwd", "user"])
def test_a_changed_config_file_invalidates_the_cache(isolated_env: Path, where: str) -> None:
    path = isolated_env / "llmspell.toml" if where == "cwd" else user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[rag]\nchunk_size = 100\n")
    assert load_config_cached().config.rag.chunk_size == 100
    assert isinstance(load_config_cached().config, LLMSpellConfigView)
    # same size, same second: only the content differs
    path.write_text("[rag]\nchunk_size = 200\n")
    loaded = load_config_cached()
    assert loaded.config.rag.chunk_size == 200
    assert loaded.sources["rag.chunk_size"] == str(path)
    path.unlink()
    assert load_config_cached().config.rag.chunk_size == 512


def test_an_invalid_config_file_fails_even_after_a_valid_one_was_cached(
    isolated_env: Path,
) -> None:
    from llmspell.runtime.config import ConfigError

    toml = isolated_env / "llmspell.toml"
    toml.write_text("[rag]\nchunk_size = 100\n")
    load_config_cached()
    toml.write_text("[rag]\nchunk_size = 1\n")
    with pytest.raises(ConfigError, match=r"rag\.chunk_size = 1"):
        load_config_cached()


def test_a_changed_environment_variable_invalidates_the_cache(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_config_cached().config.storage.backend == "sqlite"
    monkeypatch.setenv("LLMSPELL_PROFILE", "memory")
    assert load_config_cached().config.storage.backend == "memory"
    assert isinstance(load_config_cached().config, LLMSpellConfigView)
    monkeypatch.setenv("LLMSPELL_RAG__CHUNK_SIZE", "100")
    assert load_config_cached().config.rag.chunk_size == 100
    monkeypatch.setenv("LLMSPELL_RAG__CHUNK_SIZE", "200")
    assert load_config_cached().config.rag.chunk_size == 200


def test_a_changed_temporary_or_home_dir_invalidates_the_cache(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # built-in defaults may be computed from them (a private temporary dir)
    load_config_cached()
    assert isinstance(load_config_cached().config, LLMSpellConfigView)
    for name in ("TMPDIR", "HOME"):
        monkeypatch.setenv(name, str(isolated_env))
        assert isinstance(load_config_cached().config, LLMSpellConfig)
        assert isinstance(load_config_cached().config, LLMSpellConfigView)


def test_values_from_environment_variables_are_never_written_to_the_cache(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://app:s3cret-from-env@db/llmspell"
    monkeypatch.setenv("LLMSPELL_STORAGE__POSTGRES__URL", url)
    for _ in range(2):
        loaded = load_config_cached()
        assert loaded.config.storage.postgres.url == url
        assert isinstance(loaded.config, LLMSpellConfig)  # validated each time
    assert not cache_file().exists()


def test_the_cached_view_answers_like_the_validated_model(isolated_env: Path) -> None:
    (isolated_env / "llmspell.toml").write_text(
        '[providers.work]\ntype = "openai"\nmodel = "gpt-x"\n'
        '[providers.local]\ntype = "mock"\napi_key_env = "LOCAL_KEY"\n'
        '[[providers.local.replies]]\nwhen = "hi"\ntext = "hello"\n'
        '[storage.components]\nkv = "memory"\n'
    )
    validated = load_config_cached().config
    view = load_config_cached().config
    assert isinstance(view, LLMSpellConfigView) and isinstance(validated, LLMSpellConfig)
    assert view.model_dump() == validated.model_dump()
    assert view.model_dump(mode="json") == validated.model_dump(mode="json")
    assert view.resolved_storage_path() == validated.resolved_storage_path()
    assert view.resolved_history_file() == validated.resolved_history_file()
    assert view.providers["work"].key_env == "OPENAI_API_KEY"
    assert view.providers["local"].key_env == "LOCAL_KEY"
    assert view.providers["local"].replies[0].text == "hello"
    assert view.storage.components == {"kv": "memory"}  # a table, not a section
    # what the view does not hold itself, the model built from its values answers
    assert view.providers["work"].model_copy().model == "gpt-x"
    assert view.rag.model_copy(update={"chunk_size": 99}).chunk_size == 99
    with pytest.raises(AttributeError, match="read-only: cannot set RagConfig 'chunk_size'"):
        view.rag.chunk_size = 1
    with pytest.raises(ValueError, match="model_dump: mode must be 'python' or 'json'"):
        view.model_dump(mode="yaml")
    assert isinstance(view.storage, ConfigView)
