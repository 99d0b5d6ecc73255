"""`llmspell run|exec|config` through `llmspell.cli.main`, in-process."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_helpers import RunCli
from fakes.connection_strings import FORMS, CredentialForm

from llmspell import __version__
from llmspell.cli import split_script_args
from llmspell.runtime.tools.paths import private_temp_path

SHOW_ARGS = "print(JSON.stringify(ARGS))\nprint(JSON.stringify(arg))\n"


def script(directory: Path, name: str, code: str) -> Path:
    path = directory / name
    path.write_text(code)
    return path


# --- run ----------------------------------------------------------------------------------------


def test_run_passes_positional_and_named_arguments_as_args(cli: RunCli, isolated_env: Path) -> None:
    path = script(isolated_env, "args.lua", SHOW_ARGS)
    outcome = cli("--profile", "memory", "run", str(path), "a", "b", "--k", "v", "--flag")
    assert outcome.code == 0, outcome.err
    all_args, positional = (json.loads(line) for line in outcome.out.splitlines())
    assert all_args == {"0": str(path), "1": "a", "2": "b", "k": "v", "flag": "true"}
    assert positional == {"0": str(path), "1": "a", "2": "b"}


def test_run_accepts_key_equals_value_and_values_that_look_negative(
    cli: RunCli, isolated_env: Path
) -> None:
    path = script(isolated_env, "args.lua", SHOW_ARGS)
    outcome = cli("--profile", "memory", "run", str(path), "--k=v=w", "--n", "-5", "--last")
    assert outcome.code == 0, outcome.err
    all_args = json.loads(outcome.out.splitlines()[0])
    assert all_args == {"0": str(path), "k": "v=w", "n": "-5", "last": "true"}


@pytest.mark.parametrize(
    ("tokens", "positional", "named"),
    [
        (["a", "b", "--k", "v", "--flag"], ["a", "b"], {"k": "v", "flag": "true"}),
        (["--a", "--b", "x"], [], {"a": "true", "b": "x"}),
        (["--k=", "-", "--"], ["-", "--"], {"k": ""}),
        ([], [], {}),
    ],
)
def test_script_arguments_split_into_positional_and_named(
    tokens: list[str], positional: list[str], named: dict
) -> None:
    assert split_script_args(tokens) == (positional, named)


def test_arguments_that_are_not_utf8_reach_lua_as_their_original_bytes(
    cli: RunCli, isolated_env: Path
) -> None:
    # sys.argv holds bytes that are not UTF-8 as surrogate escapes ('\udcff' for 0xff)
    path = script(
        isolated_env, "bytes.lua", "print(ARGS[1]:byte(1, -1))\nprint(ARGS.k:byte(1, -1))\n"
    )
    outcome = cli("--profile", "memory", "run", str(path), "\udcff\udcfe", "--k", "a\udcfa")
    assert (outcome.code, outcome.out, outcome.err) == (0, "255\t254\n97\t250\n", "")


def test_arguments_that_are_not_utf8_reach_python_with_surrogate_escapes(
    cli: RunCli, isolated_env: Path
) -> None:
    path = script(isolated_env, "bytes.py", "import os\nprint(list(os.fsencode(ARGS[1])))\n")
    outcome = cli("--profile", "memory", "run", str(path), "\udcff\udcfe")
    assert (outcome.code, outcome.out) == (0, "[255, 254]\n")


@pytest.mark.parametrize("engine", ["lua", "python"])
def test_exec_of_code_that_is_not_utf8_is_a_one_line_error(cli: RunCli, engine: str) -> None:
    outcome = cli("--profile", "memory", "exec", "--engine", engine, 'print("\udcff")')
    assert (outcome.code, outcome.err) == (1, "llmspell exec: the code is not UTF-8 text\n")


def test_run_prints_output_and_returns_zero(cli: RunCli, isolated_env: Path) -> None:
    path = script(isolated_env, "ok.lua", "print('hello', 1 + 1)\n42\n")
    outcome = cli("--profile", "memory", "run", str(path))
    assert (outcome.code, outcome.out, outcome.err) == (0, "hello\t2\n", "")


def test_run_script_error_exits_1_with_a_clean_message(cli: RunCli, isolated_env: Path) -> None:
    path = script(isolated_env, "bad.lua", "print('before')\nlocal x = nil + 1\n")
    outcome = cli("--profile", "memory", "run", str(path))
    assert outcome.code == 1
    assert outcome.out == "before\n"
    first = outcome.err.splitlines()[0]
    assert first.startswith("LuaError: ")
    assert first.endswith("/bad.lua:2: attempt to perform arithmetic on a nil value")
    assert "Traceback (most recent call last)" not in outcome.err
    # no Python source named (Lua shortens a long script path to "...pytest-N/...", whose
    # ".py" is not a file name)
    assert re.search(r"\w\.py\b", outcome.err) is None, outcome.err


def test_run_api_error_names_the_function(cli: RunCli, isolated_env: Path) -> None:
    path = script(isolated_env, "bad.lua", "State.save('global', '', 1)\n")
    outcome = cli("--profile", "memory", "run", str(path))
    assert outcome.code == 1
    assert outcome.err.startswith("ValidationError: State.save: key must be a non-empty string\n")


def test_run_missing_file_says_so(cli: RunCli) -> None:
    outcome = cli("--profile", "memory", "run", "missing.lua")
    assert outcome.code == 1
    assert outcome.err == ("llmspell run: cannot read 'missing.lua': No such file or directory\n")


def test_run_python_files_use_the_python_engine(cli: RunCli, isolated_env: Path) -> None:
    path = script(isolated_env, "job.py", "print(ARGS[1], ARGS['k'], Tenant.id())\n")
    outcome = cli("--profile", "memory", "run", str(path), "a", "--k", "v")
    assert (outcome.code, outcome.out) == (0, "a v default\n")


@pytest.mark.parametrize(
    ("code", "status", "err"),
    [("sys.exit(3)", 3, ""), ("sys.exit()", 0, ""), ("sys.exit('no input')", 1, "no input\n")],
)
def test_sys_exit_in_a_python_script_sets_the_exit_status_like_python(
    cli: RunCli, isolated_env: Path, code: str, status: int, err: str
) -> None:
    path = script(isolated_env, "job.py", f"import sys\nprint('before')\n{code}\nprint('after')\n")
    outcome = cli("--profile", "memory", "run", str(path))
    assert (outcome.code, outcome.out, outcome.err) == (status, "before\n", err)


def test_run_engine_flag_overrides_the_extension(cli: RunCli, isolated_env: Path) -> None:
    path = script(isolated_env, "job.txt", "print(1 // 2)\n")
    assert cli("--profile", "memory", "run", "--engine", "python", str(path)).out == "0\n"


def test_run_with_an_invalid_config_exits_1_without_a_traceback(
    cli: RunCli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSPELL_STORAGE__BACKEND", "nosql")
    path = script(isolated_env, "ok.lua", "print(1)\n")
    outcome = cli("run", str(path))
    assert outcome.code == 1
    assert outcome.err.startswith("llmspell run: invalid configuration:\n")
    assert "environment variable LLMSPELL_STORAGE__BACKEND" in outcome.err
    assert "Traceback" not in outcome.err


# --- exec ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "out"),
    [
        ("1 + 1", "2\n"),
        ("'abc'", '"abc"\n'),
        ("{1, 2, x = 3}", "{1, 2, x = 3}\n"),
        ("x = 1", ""),
        ("print('hi')", "hi\n"),
        ("1 + 1;", ""),
    ],
)
def test_exec_prints_the_value_of_the_last_expression(cli: RunCli, code: str, out: str) -> None:
    outcome = cli("--profile", "memory", "exec", code)
    assert (outcome.code, outcome.out) == (0, out)


def test_exec_runs_magics_like_the_kernel(cli: RunCli) -> None:
    outcome = cli("--profile", "memory", "exec", "x = 1\n%who\n%config engines.lua.timeout_s")
    assert (outcome.code, outcome.err) == (0, "")
    assert outcome.out == (
        "x\nengines.lua.timeout_s = 300  # llmspell run/exec default (the kernel has none)\n"
    )


def test_exec_error_exits_1(cli: RunCli) -> None:
    outcome = cli("--profile", "memory", "exec", "error('boom')")
    assert outcome.code == 1
    assert outcome.err.startswith("LuaError: exec:1: boom\n")


def test_exec_with_the_python_engine(cli: RunCli) -> None:
    assert cli("--profile", "memory", "exec", "--engine", "python", "6 * 7").out == "42\n"


def test_rich_output_degrades_to_text(cli: RunCli) -> None:
    code = "Display.markdown('# Title') display({1, 2}) help(State.load)"
    outcome = cli("--profile", "memory", "exec", code)
    lines = outcome.out.splitlines()
    assert lines[:2] == ["# Title", "{1, 2}"]
    assert lines[2] == "State.load(scope, key)"


@pytest.mark.parametrize(
    ("engine", "setting", "shown"),
    [("lua", "engines.lua.timeout_s", "300.0"), ("python", "engines.python.timeout_s", "300.0")],
)
def test_cli_bounds_run_time_by_default(cli: RunCli, engine: str, setting: str, shown: str) -> None:
    code = f"Config.get('{setting}')"
    outcome = cli("--profile", "memory", "exec", "--engine", engine, code)
    assert outcome.out.strip().strip("'") == shown


def test_cli_keeps_a_timeout_the_user_chose(
    cli: RunCli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = "Config.get('engines.lua.timeout_s')"
    monkeypatch.setenv("LLMSPELL_ENGINES__LUA__TIMEOUT_S", "0")
    assert cli("--profile", "memory", "exec", code).out == "0.0\n"
    monkeypatch.delenv("LLMSPELL_ENGINES__LUA__TIMEOUT_S")
    cfg = script(isolated_env, "c.toml", "[engines.lua]\ntimeout_s = 5\n")
    assert cli("--profile", "memory", "-c", str(cfg), "exec", code).out == "5.0\n"


def test_cli_timeout_stops_a_runaway_script(
    cli: RunCli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSPELL_ENGINES__LUA__TIMEOUT_S", "0.3")
    path = script(isolated_env, "loop.lua", "while true do end\n")
    outcome = cli("--profile", "memory", "run", str(path))
    assert outcome.code == 1
    # Lua shortens a long path from the front ("...loop.lua"), keeping the file and line
    assert outcome.err.startswith("TimeoutError: execution exceeded the time limit of 0.3 s (")
    assert outcome.err.endswith("loop.lua:1)\n")


# --- config show / validate, --profile, -c -------------------------------------------------------


def test_config_show_lists_values_with_their_sources(cli: RunCli) -> None:
    outcome = cli("--profile", "memory", "config", "show")
    assert outcome.code == 0
    lines = outcome.out.splitlines()
    assert lines[0] == "# config files: none; profile: memory"
    rows = {line.split("=", 1)[0].strip(): line for line in lines[1:]}
    assert rows["storage.backend"].endswith('= "memory"  # profile memory')
    assert rows["default_engine"].endswith('= "lua"  # built-in default')
    assert rows["engines.lua.max_memory_mb"].endswith("= 512  # built-in default")


def test_config_show_names_files_environment_and_redacts(
    cli: RunCli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = script(isolated_env, "c.toml", '[tenancy]\ntenant_id = "acme"\n')
    monkeypatch.setenv("LLMSPELL_STORAGE__POSTGRES__URL", "postgresql://app:hunter2@db/llm")
    outcome = cli("-c", str(cfg), "config", "show")
    assert outcome.code == 0
    assert f"# config files: {cfg}; profile: none" in outcome.out
    assert f'"acme"  # config file {cfg}' in outcome.out
    assert (
        '"postgresql://app:***@db/llm"  # environment variable LLMSPELL_STORAGE__POSTGRES__URL'
        in outcome.out
    )
    assert "hunter2" not in outcome.out


@pytest.mark.parametrize("form", FORMS, ids=[form.name for form in FORMS])
@pytest.mark.parametrize("json_output", [False, True], ids=["text", "json"])
def test_config_show_redacts_every_libpq_password_form(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch, form: CredentialForm, json_output: bool
) -> None:
    monkeypatch.setenv("LLMSPELL_STORAGE__POSTGRES__URL", form.url)
    monkeypatch.setenv("LLMSPELL_STORAGE__POSTGRES__ADMIN_URL", form.url)
    outcome = cli("--profile", "memory", "config", "show", *(["--json"] if json_output else []))
    assert outcome.code == 0, outcome.err
    assert "***" in outcome.out
    assert form.secret not in outcome.out + outcome.err


def test_config_show_json_is_machine_readable(cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSPELL_STORAGE__POSTGRES__URL", "postgresql://app:hunter2@db/llm")
    outcome = cli("--profile", "memory", "config", "show", "--json")
    data = json.loads(outcome.out)
    assert data["storage.backend"] == {"value": "memory", "source": "profile memory"}
    assert data["storage.postgres.url"]["value"] == "postgresql://app:***@db/llm"
    assert data["tools.allowed_paths"] == {
        "value": [private_temp_path()],
        "source": "built-in default",
    }


def test_config_show_picks_up_discovered_files(cli: RunCli, isolated_env: Path) -> None:
    script(isolated_env, "llmspell.toml", "[kernel]\ndisplay_max_items = 256\n")
    outcome = cli("config", "show")
    assert "# config files: llmspell.toml" in outcome.out or str(isolated_env) in outcome.out
    assert "= 256  # config file " in outcome.out


def test_config_validate_accepts_a_good_file(cli: RunCli, isolated_env: Path) -> None:
    good = script(isolated_env, "good.toml", '[storage]\nbackend = "memory"\n')
    outcome = cli("config", "validate", str(good))
    assert (outcome.code, outcome.out) == (0, f"{good}: valid\n")


def test_config_validate_rejects_a_bad_file_naming_key_and_allowed(
    cli: RunCli, isolated_env: Path
) -> None:
    bad = script(isolated_env, "bad.toml", '[storage]\nbackend = "sqlite"\nbakend = "x"\n')
    outcome = cli("config", "validate", str(bad))
    assert outcome.code == 1
    assert f"config file {bad}: unknown key 'storage.bakend'; allowed: auto_upgrade" in outcome.err


def test_config_validate_reports_a_missing_file(cli: RunCli) -> None:
    outcome = cli("config", "validate", "nope.toml")
    assert outcome.code == 1
    assert "nope.toml" in outcome.err
    assert "cannot be read" in outcome.err


def test_profile_flag_selects_the_storage(cli: RunCli) -> None:
    assert cli("--profile", "memory", "exec", "Config.get('storage.backend')").out == '"memory"\n'
    outcome = cli("--profile", "nope", "exec", "1")
    assert outcome.code == 1
    assert outcome.err.startswith("llmspell exec: unknown profile 'nope'; allowed: default,")


def test_config_flag_reads_that_file(cli: RunCli, isolated_env: Path) -> None:
    cfg = script(isolated_env, "c.toml", '[tenancy]\ntenant_id = "acme"\n')
    outcome = cli("--profile", "memory", "-c", str(cfg), "exec", "Tenant.id()")
    assert outcome.out == '"acme"\n'
    outcome = cli("--profile", "memory", "--config", str(isolated_env / "none.toml"), "exec", "1")
    assert outcome.code == 1
    assert "does not exist" in outcome.err


def test_no_command_prints_help(cli: RunCli) -> None:
    outcome = cli()
    assert outcome.code == 2
    assert "usage: llmspell" in outcome.out


def test_version_flag_prints_the_version(cli: RunCli, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli("--version")
    assert info.value.code == 0
    assert capsys.readouterr().out == f"llmspell {__version__}\n"


# --- arguments, options and messages a newcomer meets -------------------------------------------


def test_double_dash_passes_the_rest_to_the_script_as_it_is(
    cli: RunCli, isolated_env: Path
) -> None:
    script(isolated_env, "a.lua", "print(#arg, arg[1], arg[2], ARGS.help, ARGS.k)")
    outcome = cli("--profile", "memory", "run", "a.lua", "--k", "v", "--", "--help", "x")
    assert (outcome.code, outcome.out) == (0, "2\t--help\tx\tnil\tv\n")


def test_double_dash_is_refused_for_commands_that_take_no_script_arguments(cli: RunCli) -> None:
    with pytest.raises(SystemExit) as info:
        cli("--profile", "memory", "exec", "print(1)", "--", "x")
    assert info.value.code == 2


def test_a_malformed_script_option_is_a_clear_one_line_error(
    cli: RunCli, isolated_env: Path
) -> None:
    script(isolated_env, "a.lua", "print(1)")
    outcome = cli("--profile", "memory", "run", "a.lua", "--=x")
    assert outcome.code == 1 and outcome.out == ""
    assert outcome.err == (
        "llmspell run: malformed script option '--=x': use --name value, --name=value or "
        "--flag (put `--` before arguments the script should get as they are)\n"
    )


def test_global_options_work_after_the_command_too(cli: RunCli) -> None:
    outcome = cli("exec", "--profile", "memory", "Config.get('storage.backend')")
    assert (outcome.code, outcome.out) == (0, '"memory"\n')
    outcome = cli("--profile", "postgres", "exec", "--profile", "memory", "1 + 1")
    assert (outcome.code, outcome.out) == (0, "2\n"), "the option after the command wins"


def test_config_show_reports_effective_paths_and_the_cli_time_limit(
    cli: RunCli, isolated_env: Path
) -> None:
    outcome = cli("config", "show", "--json")
    data = json.loads(outcome.out)
    data_dir = isolated_env.parent / "xdg" / "xdg_data_home" / "llmspell"
    assert data["storage.path"] == {
        "value": str(data_dir / "llmspell.db"),
        "source": "built-in default: in the user data dir",
    }
    assert data["kernel.history_file"]["value"] == str(data_dir / "kernel_history.db")
    assert data["engines.lua.timeout_s"] == {
        "value": 300,
        "source": "llmspell run/exec default (the kernel has none)",
    }


def test_a_timeout_the_user_set_is_shown_as_set(cli: RunCli, isolated_env: Path) -> None:
    script(isolated_env, "llmspell.toml", "[engines.lua]\ntimeout_s = 7\n")
    data = json.loads(cli("config", "show", "--json").out)
    assert data["engines.lua.timeout_s"]["value"] == 7
    assert data["engines.lua.timeout_s"]["source"].startswith("config file ")


def test_an_unknown_profile_in_the_environment_names_the_variable(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSPELL_PROFILE", "bogus")
    outcome = cli("config", "show")
    assert outcome.code == 1
    assert outcome.err.startswith(
        "llmspell config show: environment variable LLMSPELL_PROFILE: unknown profile 'bogus'; "
        "allowed: "
    )


def test_a_config_file_that_is_not_utf8_is_a_one_line_error(
    cli: RunCli, isolated_env: Path
) -> None:
    bad = isolated_env / "latin1.toml"
    bad.write_bytes(b'[storage]\nbackend = "m\xe9mory"\n')
    outcome = cli("config", "validate", str(bad))
    assert outcome.code == 1
    assert outcome.err == (
        f"llmspell config validate: config file {str(bad)!r} is not UTF-8 text (byte 0xe9 at "
        "offset 22); TOML files must be UTF-8\n"
    )


def test_a_missing_required_key_names_the_file_and_not_the_whole_table(
    cli: RunCli, isolated_env: Path
) -> None:
    bad = script(isolated_env, "p.toml", '[providers.local]\nmodel = "m"\n')
    outcome = cli("config", "validate", str(bad))
    assert outcome.code == 1
    assert f"config file {bad}: providers.local.type is required" in outcome.err
    assert "{" not in outcome.err


def test_kernel_install_refuses_an_unknown_name(cli: RunCli, isolated_env: Path) -> None:
    outcome = cli("kernel", "install", "--prefix", str(isolated_env), "--name", "bogus")
    assert outcome.code == 1
    assert "unknown kernelspec 'bogus'; choose llmspell or llmspell-python" in outcome.err
    assert not (isolated_env / "share").exists()


def test_kernel_uninstall_from_a_prefix_says_which_copy_it_removed(
    cli: RunCli, isolated_env: Path
) -> None:
    assert cli("kernel", "install", "--prefix", str(isolated_env), "--name", "llmspell").code == 0
    outcome = cli("kernel", "uninstall", "--prefix", str(isolated_env))
    kernels = isolated_env / "share" / "jupyter" / "kernels"
    assert (outcome.code, outcome.out) == (0, f"removed {kernels / 'llmspell'}\n")
    outcome = cli("kernel", "uninstall", "--prefix", str(isolated_env))
    assert outcome.out == "no llmspell kernelspecs were installed there\n"


def test_plain_kernel_uninstall_names_the_copy_it_removed_and_the_ones_left(
    cli: RunCli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a location only the first copy Jupyter finds goes (here the JUPYTER_PATH one,
    as the venv's would be); the --user copy Jupyter now starts is named with its option."""
    first, user = isolated_env / "first", isolated_env / "user-data"
    monkeypatch.setenv("JUPYTER_PATH", str(first / "share" / "jupyter"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(user))
    assert cli("kernel", "install", "--user", "--name", "llmspell").code == 0
    assert cli("kernel", "install", "--prefix", str(first), "--name", "llmspell").code == 0
    outcome = cli("kernel", "uninstall", "--name", "llmspell")
    lines = outcome.out.splitlines()
    assert lines[0] == f"removed {first / 'share' / 'jupyter' / 'kernels' / 'llmspell'}"
    assert (
        f"still installed: llmspell in {user / 'kernels' / 'llmspell'} "
        "(remove with: llmspell kernel uninstall --user --name llmspell)"
    ) in lines
    assert cli("kernel", "uninstall", "--user", "--name", "llmspell").out == (
        f"removed {user / 'kernels' / 'llmspell'}\n"
    )


# --- what every command shares (llmspell/cli_base.py) --------------------------------------------


def test_a_failure_names_the_command_that_failed_however_deep(cli: RunCli) -> None:
    outcome = cli("kernel", "install", "--sys-prefix", "--name", "no-such-spec")
    assert outcome.code == 1
    assert outcome.err.startswith("llmspell kernel install: ")
    assert "no-such-spec" in outcome.err and outcome.err.count("\n") == 1


def test_a_group_command_reports_an_invalid_config_on_one_line(
    cli: RunCli, isolated_env: Path
) -> None:
    bad = script(isolated_env, "bad.toml", '[storage]\nbackend = "oracle"\n')
    for argv in (["rag", "search", "x"], ["keys", "list"], ["storage", "schema"]):
        outcome = cli("-c", str(bad), *argv)
        assert outcome.code == 1, argv
        assert outcome.err.startswith(f"llmspell {' '.join(argv[:2])}: invalid configuration: ")
        assert outcome.err.count("\n") == 1 and "storage.backend" in outcome.err


def test_the_profile_option_lists_every_known_profile() -> None:
    from llmspell.cli import build_parser
    from llmspell.runtime.config import known_profiles

    help_text = " ".join(build_parser(groups=[]).format_help().split())
    assert f"built-in profile: {', '.join(known_profiles())}" in help_text


def test_command_group_modules_do_not_import_the_main_cli_module() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import llmspell.cli_keys, llmspell.cli_rag, llmspell.cli_storage\n"
        "import llmspell.cli_storage_check, llmspell.cli_storage_transfer\n"
        "print('llmspell.cli' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip() == "False"
