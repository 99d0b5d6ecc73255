"""`llmspell keys add|list|remove|rotate|rotate-master` through `llmspell.cli.main` (and once
as the installed command): each is a thin layer over `KeyStore`, on the configured storage
and tenant; secrets come from a variable, a pipe or a hidden prompt, and are never printed."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import LLMSPELL, RunCli

from llmspell.runtime.config import data_dir, load_config
from llmspell.runtime.infrastructure import Infrastructure
from llmspell.runtime.keys import KeyStore

SECRET = "sk-cli-" + os.urandom(8).hex()


def stored_secret(service: str, config_file: Path | None = None) -> str | None:
    """What the runtime reads for `service` with the same config (and environment)."""
    infra = Infrastructure.from_config(load_config(config_file=config_file).config)
    try:
        return infra.get(KeyStore).secret(service)
    finally:
        infra.close()


def piped(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def listed(cli: RunCli, *options: str) -> list[dict[str, Any]]:
    outcome = cli("keys", "list", "--json", *options)
    assert outcome.code == 0, outcome.err
    keys: list[dict[str, Any]] = json.loads(outcome.out)["keys"]
    return keys


def one_line_failure(outcome: Any, action: str, text: str) -> None:
    assert outcome.code == 1
    assert outcome.err.startswith(f"llmspell keys {action}: ")
    assert text in outcome.err
    assert outcome.err.count("\n") == 1, outcome.err


def test_add_reads_a_piped_key_and_the_runtime_decrypts_it(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    piped(monkeypatch, SECRET + "\n")
    outcome = cli("keys", "add", "openai")
    assert outcome.code == 0, outcome.err
    assert "added the key of 'openai' for tenant 'default'" in outcome.out
    assert "master key version 1" in outcome.out
    assert SECRET not in outcome.out + outcome.err
    assert stored_secret("openai") == SECRET
    key_file = data_dir() / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_add_reads_the_variable_named_by_from_env(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_OPENAI_KEY", SECRET)
    outcome = cli("keys", "add", "openai", "--from-env", "MY_OPENAI_KEY", "--expires-in-days", "7")
    assert outcome.code == 0, outcome.err
    assert "expires" in outcome.out
    [key] = listed(cli)
    assert key["expires_at"] is not None and key["service"] == "openai"
    assert stored_secret("openai") == SECRET


def test_add_prompts_without_echo_on_a_terminal(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return SECRET

    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("getpass.getpass", fake_getpass)
    outcome = cli("keys", "add", "anthropic")
    assert outcome.code == 0, outcome.err
    assert prompts == ["API key for anthropic: "]
    assert stored_secret("anthropic") == SECRET


def test_a_key_cannot_be_given_as_a_command_line_argument(cli: RunCli) -> None:
    with pytest.raises(SystemExit) as caught:
        cli("keys", "add", "openai", SECRET)
    assert caught.value.code == 2


def test_adding_a_second_key_says_to_rotate(cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    piped(monkeypatch, SECRET)
    assert cli("keys", "add", "openai").code == 0
    piped(monkeypatch, "sk-other")
    one_line_failure(cli("keys", "add", "openai"), "add", "llmspell keys rotate openai")
    assert stored_secret("openai") == SECRET


def test_rotate_keeps_history_and_list_all_shows_the_chain(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    piped(monkeypatch, "sk-1")
    assert cli("keys", "add", "openai").code == 0
    for n in (2, 3, 4):
        monkeypatch.setenv("NEXT_KEY", f"sk-{n}")
        outcome = cli("keys", "rotate", "openai", "--from-env", "NEXT_KEY")
        assert outcome.code == 0, outcome.err
        assert "rotated the key of 'openai'" in outcome.out
    assert stored_secret("openai") == "sk-4"
    history = listed(cli, "--all", "--service", "openai")
    assert [k["active"] for k in history] == [False, False, False, True]
    assert [k["rotated_from"] for k in history] == [None] + [k["key_id"] for k in history[:-1]]
    assert len(listed(cli)) == 1


def test_list_prints_a_table_without_secrets(cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "no API keys stored in tenant 'default'" in cli("keys", "list").out
    piped(monkeypatch, SECRET)
    cli("keys", "add", "openai")
    stored_secret("openai")
    outcome = cli("keys", "list")
    assert outcome.code == 0, outcome.err
    assert "openai" in outcome.out and "active" in outcome.out
    row = next(line for line in outcome.out.splitlines() if "openai" in line)
    assert " 1 " in row, "one use"
    assert SECRET not in outcome.out
    assert SECRET not in cli("keys", "list", "--json", "--all").out


def test_remove_deletes_a_service_and_a_missing_one_is_an_error(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    piped(monkeypatch, SECRET)
    cli("keys", "add", "openai")
    piped(monkeypatch, "sk-2")
    cli("keys", "rotate", "openai")
    outcome = cli("keys", "remove", "openai")
    assert (outcome.code, outcome.out.strip()) == (0, "removed 2 keys of 'openai'")
    assert stored_secret("openai") is None
    one_line_failure(
        cli("keys", "remove", "openai"), "remove", "no keys stored for service 'openai'"
    )


def test_rotate_master_with_the_key_file_keeps_every_key_readable(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    for service in ("openai", "anthropic"):
        piped(monkeypatch, f"{SECRET}-{service}")
        assert cli("keys", "add", service).code == 0
    for version in (2, 3):
        outcome = cli("keys", "rotate-master")
        assert outcome.code == 0, outcome.err
        assert f"re-encrypted 2 keys of tenant 'default' with master key version {version}" in (
            outcome.out
        )
        assert "master.key" in outcome.out
    assert stored_secret("openai") == f"{SECRET}-openai"
    assert {k["key_version"] for k in listed(cli)} == {3}


def test_rotate_master_with_the_env_key_needs_the_new_key_and_says_to_update_it(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = base64.b64encode(os.urandom(32)).decode()
    new = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("LLMSPELL_MASTER_KEY", old)
    piped(monkeypatch, SECRET)
    assert cli("keys", "add", "openai").code == 0
    one_line_failure(cli("keys", "rotate-master"), "rotate-master", "--new-key-env")
    monkeypatch.setenv("NEW_MASTER", new)
    outcome = cli("keys", "rotate-master", "--new-key-env", "NEW_MASTER")
    assert outcome.code == 0, outcome.err
    assert "now set LLMSPELL_MASTER_KEY to the value of NEW_MASTER" in outcome.out
    assert old not in outcome.out and new not in outcome.out
    listing = cli("keys", "list")
    assert listing.code == 0, "listing needs no master key"
    monkeypatch.setenv("LLMSPELL_MASTER_KEY", new)
    assert stored_secret("openai") == SECRET


@pytest.mark.parametrize(
    ("argv", "stdin", "action", "message"),
    [
        (["keys", "add", "openai"], "\n", "add", "no key given: standard input is empty"),
        (["keys", "add", "openai", "--from-env", "UNSET_VAR"], "", "add", "is not set"),
        (
            ["keys", "add", "openai", "--expires-in-days", "0"],
            "sk",
            "add",
            "--expires-in-days must be above 0",
        ),
        (["keys", "add", "bad\x01name"], "sk", "add", "service must be 1-128 printable"),
        (["keys", "rotate", "openai"], "sk", "rotate", "no active key to rotate"),
        (
            ["keys", "rotate-master", "--new-key-env", "HOME"],
            "",
            "rotate-master",
            "--new-key-env HOME is not valid base64",
        ),
    ],
)
def test_bad_input_exits_1_with_one_line(
    cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    stdin: str,
    action: str,
    message: str,
) -> None:
    piped(monkeypatch, stdin)
    one_line_failure(cli(*argv), action, message)


def test_a_malformed_env_master_key_exits_1_saying_what_is_wrong(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSPELL_MASTER_KEY", base64.b64encode(b"16 bytes only!!!").decode())
    piped(monkeypatch, SECRET)
    one_line_failure(cli("keys", "add", "openai"), "add", "LLMSPELL_MASTER_KEY decodes to 16 bytes")


def test_a_world_readable_key_file_exits_1_saying_to_chmod(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    piped(monkeypatch, SECRET)
    cli("keys", "add", "openai")
    key_file = data_dir() / "master.key"
    key_file.chmod(0o644)
    piped(monkeypatch, "sk-2")
    one_line_failure(cli("keys", "rotate", "openai"), "rotate", f"chmod 600 {key_file}")


def test_global_options_choose_the_config_and_so_the_tenant(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    config = isolated_env / "team.toml"
    config.write_text('[tenancy]\ntenant_id = "team-b"\n')
    piped(monkeypatch, SECRET)
    outcome = cli("keys", "add", "openai", "-c", str(config))
    assert outcome.code == 0, outcome.err
    assert "for tenant 'team-b'" in outcome.out
    assert listed(cli) == [], "the default tenant has none"
    assert [k["service"] for k in listed(cli, "--config", str(config))] == ["openai"]
    assert stored_secret("openai", config) == SECRET
    assert "no API keys" in cli("--profile", "memory", "keys", "list").out


@pytest.mark.postgres
def test_keys_go_to_the_configured_postgres_and_tenant(
    cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    pg_config_overrides: dict[str, Any],
    unique_tenant: str,
) -> None:
    monkeypatch.setenv("LLMSPELL_STORAGE__BACKEND", "postgres")
    monkeypatch.setenv("LLMSPELL_STORAGE__AUTO_UPGRADE", "false")
    monkeypatch.setenv(
        "LLMSPELL_STORAGE__POSTGRES__URL", pg_config_overrides["storage.postgres.url"]
    )
    monkeypatch.setenv("LLMSPELL_TENANCY__TENANT_ID", f"{unique_tenant}-a")
    piped(monkeypatch, SECRET)
    assert cli("keys", "add", "openai").code == 0
    assert stored_secret("openai") == SECRET
    monkeypatch.setenv("LLMSPELL_TENANCY__TENANT_ID", f"{unique_tenant}-b")
    assert listed(cli, "--all") == []
    assert stored_secret("openai") is None
    one_line_failure(cli("keys", "remove", "openai"), "remove", "no keys stored")
    monkeypatch.setenv("LLMSPELL_TENANCY__TENANT_ID", f"{unique_tenant}-a")
    assert [k["service"] for k in listed(cli)] == ["openai"]


@pytest.mark.slow
def test_the_installed_command_takes_a_piped_key(isolated_env: Path) -> None:
    env = {**os.environ}
    run = [str(LLMSPELL), "keys"]
    added = subprocess.run(
        [*run, "add", "openai"],
        input=SECRET + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=isolated_env,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    shown = subprocess.run(
        [*run, "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=isolated_env,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert [k["service"] for k in json.loads(shown.stdout)["keys"]] == ["openai"]
    assert SECRET not in added.stdout + added.stderr + shown.stdout + shown.stderr
    assert stored_secret("openai") == SECRET
