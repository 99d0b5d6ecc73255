"""Configuration: layering and precedence, discovery, validation errors, sources, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell.runtime.config import (
    ConfigError,
    LoadedConfig,
    describe_sources,
    load_config,
    redact,
    validate_file,
    with_overrides,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def user_config(tmp_path: Path) -> Path:
    # conftest points XDG_CONFIG_HOME here; platformdirs reads it for the user config dir
    return tmp_path / "xdg" / "xdg_config_home" / "llmspell" / "config.toml"


def sources_by_key(loaded: LoadedConfig) -> dict[str, str]:
    return {key: source for key, _, source in describe_sources(loaded)}


# --- precedence -------------------------------------------------------------------------------


def test_each_layer_overrides_the_one_below(isolated_env: Path) -> None:
    cfg_file = write(isolated_env / "c.toml", '[storage]\nbackend = "postgres"\n')

    assert load_config(env={}).config.storage.backend == "sqlite"
    assert load_config(profile="memory", env={}).config.storage.backend == "memory"
    from_file = load_config(config_file=cfg_file, profile="memory", env={})
    assert from_file.config.storage.backend == "postgres"
    env = {"LLMSPELL_STORAGE__BACKEND": "sqlite"}
    from_env = load_config(config_file=cfg_file, profile="memory", env=env)
    assert from_env.config.storage.backend == "sqlite"
    from_flag = load_config(
        config_file=cfg_file, profile="memory", env=env, overrides={"storage.backend": "memory"}
    )
    assert from_flag.config.storage.backend == "memory"

    assert load_config(env={}).source_of("storage.backend") == "default"
    assert load_config(profile="memory", env={}).source_of("storage.backend") == "profile memory"
    assert from_file.source_of("storage.backend") == str(cfg_file)
    assert from_env.source_of("storage.backend") == "env"
    assert from_flag.source_of("storage.backend") == "flag"


def test_layers_merge_key_by_key_rather_than_replacing_sections(isolated_env: Path) -> None:
    cfg_file = write(isolated_env / "c.toml", "[storage]\nmax_value_mb = 2\n")
    loaded = load_config(config_file=cfg_file, profile="memory", env={})
    assert loaded.config.storage.backend == "memory"  # from the profile, same section
    assert loaded.config.storage.max_value_mb == 2


def test_none_valued_flags_leave_lower_layers_alone(isolated_env: Path) -> None:
    loaded = load_config(profile="memory", env={}, overrides={"storage.backend": None})
    assert loaded.config.storage.backend == "memory"


# --- discovery --------------------------------------------------------------------------------


def test_local_file_is_layered_over_the_user_file(tmp_path: Path, isolated_env: Path) -> None:
    user = write(
        user_config(tmp_path), '[tenancy]\ntenant_id = "user"\n[storage]\nmax_value_mb = 2\n'
    )
    local = write(isolated_env / "llmspell.toml", '[tenancy]\ntenant_id = "local"\n')

    loaded = load_config(env={})

    assert loaded.files == [user, isolated_env / "llmspell.toml"]
    assert loaded.config.tenancy.tenant_id == "local"
    assert loaded.config.storage.max_value_mb == 2
    assert loaded.source_of("tenancy.tenant_id") == str(local)
    assert loaded.source_of("storage.max_value_mb") == str(user)


def test_user_file_alone_is_found(tmp_path: Path) -> None:
    user = write(user_config(tmp_path), '[tenancy]\ntenant_id = "only-user"\n')
    loaded = load_config(env={})
    assert loaded.files == [user]
    assert loaded.config.tenancy.tenant_id == "only-user"


def test_llmspell_config_variable_replaces_discovery(tmp_path: Path, isolated_env: Path) -> None:
    write(user_config(tmp_path), '[tenancy]\ntenant_id = "user"\n')
    write(isolated_env / "llmspell.toml", '[tenancy]\ntenant_id = "local"\n')
    chosen = write(tmp_path / "chosen.toml", '[tenancy]\ntenant_id = "chosen"\n')

    loaded = load_config(env={"LLMSPELL_CONFIG": str(chosen)})

    assert loaded.files == [chosen]
    assert loaded.config.tenancy.tenant_id == "chosen"


def test_explicit_config_file_beats_llmspell_config(tmp_path: Path) -> None:
    env_file = write(tmp_path / "env.toml", '[tenancy]\ntenant_id = "env"\n')
    flag_file = write(tmp_path / "flag.toml", '[tenancy]\ntenant_id = "flag"\n')
    loaded = load_config(config_file=flag_file, env={"LLMSPELL_CONFIG": str(env_file)})
    assert loaded.config.tenancy.tenant_id == "flag"


def test_missing_config_file_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml.*does not exist"):
        load_config(env={"LLMSPELL_CONFIG": str(missing)})


def test_llmspell_profile_variable_selects_a_profile_unless_one_is_given() -> None:
    assert load_config(env={"LLMSPELL_PROFILE": "memory"}).config.storage.backend == "memory"
    loaded = load_config(profile="default", env={"LLMSPELL_PROFILE": "memory"})
    assert loaded.config.storage.backend == "sqlite"
    assert loaded.profile == "default"


def test_unknown_profile_lists_the_allowed_ones() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(profile="fast", env={})
    message = str(info.value)
    assert "'fast'" in message
    for name in ("default", "memory", "postgres", "embedded-postgres"):
        assert name in message


# --- environment ------------------------------------------------------------------------------


def test_environment_values_are_parsed_for_their_field() -> None:
    loaded = load_config(
        env={
            "LLMSPELL_TOOLS__ALLOWED_PATHS": '["/data", "/tmp"]',
            "LLMSPELL_TOOLS__NETWORK_ALLOWED": "true",
            "LLMSPELL_ENGINES__LUA__MAX_MEMORY_MB": "64",
            "LLMSPELL_DEFAULT_ENGINE": "python",
        }
    )
    config = loaded.config
    assert config.tools.allowed_paths == ["/data", "/tmp"]
    assert config.tools.network_allowed is True
    assert config.engines.lua.max_memory_mb == 64
    assert config.default_engine == "python"


def test_variables_that_do_not_name_config_keys_are_ignored() -> None:
    loaded = load_config(
        env={"LLMSPELL_HOME": "/x", "LLMSPELL_MASTER_KEY": "k", "LLMSPELL_TEST_PG_URL": "pg://"}
    )
    assert loaded.sources == {}


# --- errors name the file or variable, the key and what is allowed -----------------------------


def test_unknown_key_in_a_file_names_file_key_and_allowed_keys(isolated_env: Path) -> None:
    bad = write(isolated_env / "bad.toml", '[storage]\nbakend = "memory"\n')
    with pytest.raises(ConfigError) as info:
        load_config(config_file=bad, env={})
    message = str(info.value)
    assert str(bad) in message
    assert "'storage.bakend'" in message
    assert "allowed: auto_upgrade, backend, busy_timeout_s, components," in message


def test_unknown_top_level_key_lists_the_sections(isolated_env: Path) -> None:
    bad = write(isolated_env / "bad.toml", "[engine]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'engine'; allowed: agents, default_engine"):
        load_config(config_file=bad, env={})


def test_unknown_key_inside_a_named_provider_lists_the_provider_keys(isolated_env: Path) -> None:
    bad = write(isolated_env / "bad.toml", '[providers.openai]\ntype = "openai"\napi_key = "sk"\n')
    with pytest.raises(ConfigError) as info:
        load_config(config_file=bad, env={})
    assert (
        "'providers.openai.api_key'; allowed: api_key_env, base_url, delay_ms, enabled, "
        "max_retries, model, models, replies, timeout_s, type"
    ) in str(info.value)


def test_unknown_key_from_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env={"LLMSPELL_STORAGE__BAKEND": "memory"})
    message = str(info.value)
    assert "environment variable LLMSPELL_STORAGE__BAKEND" in message
    assert "allowed: auto_upgrade, backend" in message


@pytest.mark.parametrize(
    ("toml", "key", "allowed"),
    [
        ('[storage]\nbackend = "nosql"\n', "storage.backend", "'sqlite', 'memory' or 'postgres'"),
        (
            "[engines.lua]\nmax_memory_mb = 1\n",
            "engines.lua.max_memory_mb",
            "greater than or equal to 16",
        ),
        ('[engines.lua]\nsecurity = "open"\n', "engines.lua.security", "'safe' or 'trusted'"),
        ('[engines.lua]\ntimeout_s = "soon"\n', "engines.lua.timeout_s", "valid number"),
        ('default_engine = "ruby"\n', "default_engine", "'lua' or 'python'"),
    ],
)
def test_bad_value_in_a_file_names_file_key_and_what_is_allowed(
    isolated_env: Path, toml: str, key: str, allowed: str
) -> None:
    bad = write(isolated_env / "bad.toml", toml)
    with pytest.raises(ConfigError) as info:
        load_config(config_file=bad, env={})
    message = str(info.value)
    assert f"config file {bad}: {key} = " in message
    assert allowed in message


def test_bad_value_from_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env={"LLMSPELL_ENGINES__LUA__SECURITY": "open"})
    message = str(info.value)
    assert "environment variable LLMSPELL_ENGINES__LUA__SECURITY: engines.lua.security" in message
    assert "'safe' or 'trusted'" in message


def test_bad_flag_value_names_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"command-line flag: engines\.lua\.max_memory_mb = 1"):
        load_config(env={}, overrides={"engines.lua.max_memory_mb": 1})


def test_unknown_storage_component_names_the_file_and_the_components(isolated_env: Path) -> None:
    bad = write(isolated_env / "bad.toml", '[storage.components]\nvectorz = "postgres"\n')
    with pytest.raises(ConfigError) as info:
        load_config(config_file=bad, env={})
    message = str(info.value)
    assert f"config file {bad}" in message
    assert "'vectorz'" in message
    assert "allowed: agent_state, api_keys, artifacts, events, graph, hooks, kv," in message


def test_the_providers_and_agents_sections_are_read(isolated_env: Path) -> None:
    good = write(
        isolated_env / "llm.toml",
        '[providers.openai]\ntype = "openai"\nmodel = "gpt-4o-mini"\n'
        '[agents]\ndefault_model = "openai/gpt-4o-mini"\nmax_tool_rounds = 3\n',
    )
    config = load_config(config_file=good, env={}).config
    assert config.providers["openai"].model == "gpt-4o-mini"
    assert config.providers["openai"].key_env == "OPENAI_API_KEY"
    assert (config.agents.default_model, config.agents.max_tool_rounds) == ("openai/gpt-4o-mini", 3)
    assert validate_file(good).providers["openai"].type == "openai"


def test_the_hooks_and_events_sections_are_read(isolated_env: Path) -> None:
    good = write(
        isolated_env / "on.toml",
        "[hooks]\nenabled = false\n[events]\nenabled = false\nqueue_size = 5\ndefault_ttl_s = 60\n",
    )
    config = load_config(config_file=good, env={}).config
    assert (config.hooks.enabled, config.events.enabled) == (False, False)
    assert (config.events.queue_size, config.events.default_ttl_s) == (5, 60)


# The spec's eleven components (storage.md), each of which the registry stores.
SPEC_COMPONENTS = (
    "kv",
    "vectors",
    "graph",
    "procedural",
    "agent_state",
    "workflow_state",
    "sessions",
    "artifacts",
    "events",
    "hooks",
    "api_keys",
)


@pytest.mark.parametrize("component", SPEC_COMPONENTS)
def test_every_component_of_the_spec_can_be_routed_to_a_backend(component: str) -> None:
    loaded = load_config(env={}, overrides={"storage.components": {component: "memory"}})
    assert loaded.config.storage.components == {component: "memory"}


def test_a_route_for_a_component_the_registry_lacks_is_rejected_not_ignored() -> None:
    from llmspell.storage import registry

    built = ", ".join(registry.component_names())
    with pytest.raises(ConfigError, match=rf"unknown component 'api_key'; allowed: {built}$"):
        load_config(env={}, overrides={"storage.components": {"api_key": "postgres"}})


def test_memory_and_embeddings_sections_are_read_and_validated(isolated_env: Path) -> None:
    good = write(
        isolated_env / "memory.toml",
        '[memory]\nenabled = false\nvector_weight = 0.3\n[embeddings]\nprovider = "hash"\n'
        "dimensions = 128\n",
    )
    config = load_config(config_file=good, env={}).config
    assert (config.memory.enabled, config.memory.vector_weight) == (False, 0.3)
    assert (config.embeddings.provider, config.embeddings.dimensions) == ("hash", 128)
    bad = write(isolated_env / "bad.toml", '[embeddings]\nprovider = "bert"\n')
    with pytest.raises(ConfigError, match=r"embeddings\.provider = 'bert'"):
        load_config(config_file=bad, env={})


def test_kv_component_override_decides_where_state_lives(isolated_env: Path) -> None:
    from llmspell.runtime import ScriptRuntime
    from llmspell.runtime.config.storage import storage_settings

    db = isolated_env / "kv.db"
    config = load_config(
        env={},
        overrides={
            "storage.backend": "memory",
            "storage.path": str(db),
            "storage.components": {"kv": "sqlite"},
        },
    ).config
    assert storage_settings(config).backend_of("kv") == "sqlite"
    with ScriptRuntime(config) as rt:
        rt.execute('State.save("global", "k", 1)')
    with ScriptRuntime(config) as rt:
        assert rt.execute('return State.load("global", "k")').value == 1
    assert db.is_file()


def test_invalid_toml_names_the_file(isolated_env: Path) -> None:
    bad = write(isolated_env / "bad.toml", "this is not toml\n")
    with pytest.raises(ConfigError, match=r"bad\.toml.*not valid TOML.*line 1"):
        load_config(config_file=bad, env={})


def test_with_overrides_validates_the_result() -> None:
    config = load_config(profile="memory", env={}).config
    assert with_overrides(config, {"tenancy.tenant_id": "acme"}).tenancy.tenant_id == "acme"
    with pytest.raises(ConfigError, match=r"tenancy\.tenant_id"):
        with_overrides(config, {"tenancy.tenant_id": "has space"})


# --- describe_sources, redaction, validate_file ------------------------------------------------


def test_describe_sources_names_the_source_of_every_value(isolated_env: Path) -> None:
    cfg_file = write(isolated_env / "c.toml", "[storage]\nmax_value_mb = 3\n")
    loaded = load_config(
        config_file=cfg_file,
        profile="memory",
        env={"LLMSPELL_TENANCY__TENANT_ID": "acme"},
        overrides={"engines.lua.timeout_s": 5},
    )
    sources = sources_by_key(loaded)
    assert sources["storage.backend"] == "profile memory"
    assert sources["storage.max_value_mb"] == f"config file {cfg_file}"
    assert sources["tenancy.tenant_id"] == "environment variable LLMSPELL_TENANCY__TENANT_ID"
    assert sources["engines.lua.timeout_s"] == "command-line flag"
    assert sources["rag.chunk_size"] == "built-in default"
    assert set(sources) >= {"default_engine", "engines.lua.security", "kernel.display_max_depth"}


def test_describe_sources_redacts_passwords_in_urls() -> None:
    loaded = load_config(
        env={"LLMSPELL_STORAGE__POSTGRES__URL": "postgresql://app:s3cret@db.example/llm"}
    )
    rows = {key: value for key, value, _ in describe_sources(loaded)}
    assert rows["storage.postgres.url"] == "postgresql://app:***@db.example/llm"
    assert "s3cret" not in repr(rows)


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("providers.openai.api_key", "sk-live-123", "***"),
        ("providers.x.client_secret", "abc", "***"),
        ("storage.postgres.password", "pw", "***"),
        ("auth.token", "t0k", "***"),
        ("providers.openai.api_key_env", "OPENAI_API_KEY", "OPENAI_API_KEY"),
        ("providers.openai.api_key", "", ""),
        ("storage.postgres.url", "postgresql://app@db/llm", "postgresql://app@db/llm"),
        ("providers.x.base_url", "https://u:p%40ss@h.example/v1", "https://u:***@h.example/v1"),
    ],
)
def test_redact_hides_secrets_and_keeps_the_rest(key: str, value: str, shown: str) -> None:
    assert redact(key, value) == shown


def test_an_invalid_value_is_quoted_without_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(env={"LLMSPELL_STORAGE__POSTGRES__URL": '["host=db password=pw-in-a-list-81"]'})
    assert "storage.postgres.url = ['host=db password=***']" in str(caught.value)
    assert "pw-in-a-list-81" not in str(caught.value)


def test_validate_file_accepts_a_good_file_and_ignores_the_environment(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSPELL_STORAGE__BACKEND", "nosql")
    good = write(isolated_env / "good.toml", '[storage]\nbackend = "memory"\n')
    assert validate_file(good).storage.backend == "memory"


def test_validate_file_rejects_a_bad_file_naming_it(isolated_env: Path) -> None:
    bad = write(isolated_env / "bad.toml", "[rag]\nchunk_size = 1\n")
    with pytest.raises(ConfigError) as info:
        validate_file(bad)
    assert f"config file {bad}: rag.chunk_size = 1" in str(info.value)


def test_validate_file_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        validate_file(tmp_path / "absent.toml")


# --- the package and the facts it shares with storage and embeddings ----------------------------


def test_every_public_name_of_the_config_package_is_importable_from_it() -> None:
    import llmspell.runtime.config as config_package

    missing = [name for name in config_package.__all__ if not hasattr(config_package, name)]
    assert missing == []
    assert config_package.LLMSpellConfig.__module__ == "llmspell.runtime.config.models"
    assert config_package.load_config_cached.__module__ == "llmspell.runtime.config.cache"
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchName'"):
        _ = config_package.NoSuchName


def test_importing_the_config_package_loads_neither_pydantic_nor_storage_engines() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from llmspell.runtime.config import load_config, redact, describe_sources\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'sqlalchemy', 'numpy')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip() == "[]"


def test_the_storage_backend_accepts_exactly_the_backends_storage_has(isolated_env: Path) -> None:
    from llmspell.storage.backend import backend_for
    from llmspell.storage.settings import BACKENDS

    for backend in BACKENDS:
        loaded = load_config(overrides={"storage.backend": backend})
        assert loaded.config.storage.backend == backend
        assert backend_for(backend).name == backend
    with pytest.raises(ConfigError) as err:
        load_config(overrides={"storage.backend": "oracle"})
    for backend in BACKENDS:
        assert repr(backend) in str(err.value)


def test_the_embeddings_provider_accepts_exactly_the_catalog_providers(
    isolated_env: Path,
) -> None:
    from llmspell.runtime.embeddings import build_provider
    from llmspell.runtime.embeddings.catalog import PROVIDER_NAMES, PROVIDERS

    assert tuple(PROVIDERS) == PROVIDER_NAMES
    for name in PROVIDER_NAMES:
        config = load_config(overrides={"embeddings.provider": name}).config
        assert build_provider(config.embeddings).name == name  # built, nothing contacted
    with pytest.raises(ConfigError) as err:
        load_config(overrides={"embeddings.provider": "word2vec"})
    for name in PROVIDER_NAMES:
        assert repr(name) in str(err.value)
