"""`ARGS` (and `arg`) as the rs-llmspell v0.13.1 Lua API appendix documents them: positional
arguments by index with the script at 0, named arguments by name, and Lua's traditional `arg`
table. The appendix's lines run as written in a script started by `llmspell run`; see
docs/reference/compatibility.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmspell.cli import main

APPENDIX_SCRIPT = """
local script_name = ARGS[0]  -- Script name
local first_arg = ARGS[1]    -- First positional argument
local second_arg = ARGS[2]   -- Second positional argument

local input_file = ARGS.input or "default.txt"
local output_file = ARGS.output or "result.txt"
local debug_mode = ARGS.debug == "true"

local script = arg[0]
local first = arg[1]

print(JSON.stringify({
    script_name = script_name, first_arg = first_arg, second_arg = second_arg,
    input_file = input_file, output_file = output_file, debug_mode = debug_mode,
    script = script, first = first, arg_input = arg.input or "none", arg_length = #arg,
}))
"""


def run_script(path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["--profile", "memory", "run", str(path), *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    seen: dict[str, Any] = json.loads(captured.out)
    return seen


@pytest.fixture
def script(isolated_env: Path) -> Path:
    path = isolated_env / "args.lua"
    path.write_text(APPENDIX_SCRIPT)
    return path


def test_positional_named_and_arg_as_the_appendix_reads_them(
    script: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = run_script(script, capsys, "one", "two", "--input", "in.txt", "--debug", "true")
    assert seen == {
        "script_name": str(script),
        "first_arg": "one",
        "second_arg": "two",
        "input_file": "in.txt",
        "output_file": "result.txt",
        "debug_mode": True,
        "script": str(script),
        "first": "one",
        "arg_input": "none",  # named arguments are only in ARGS
        "arg_length": 2,
    }


def test_defaults_apply_without_arguments(script: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen = run_script(script, capsys)
    assert seen == {
        "script_name": str(script),
        "input_file": "default.txt",
        "output_file": "result.txt",
        "debug_mode": False,
        "script": str(script),
        "arg_input": "none",
        "arg_length": 0,
    }


def test_a_bare_flag_is_the_string_true_and_key_equals_value_works(
    script: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = run_script(script, capsys, "--debug", "--output=out.txt")
    assert (seen["debug_mode"], seen["output_file"]) == (True, "out.txt")
    seen = run_script(script, capsys, "--debug=false")
    assert seen["debug_mode"] is False


def test_arguments_after_a_double_dash_are_positional_as_given(
    script: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = run_script(script, capsys, "--", "--input", "x")
    assert (seen["first_arg"], seen["second_arg"], seen["input_file"]) == (
        "--input",
        "x",
        "default.txt",
    )
