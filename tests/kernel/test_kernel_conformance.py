"""Jupyter protocol conformance (jupyter_kernel_test) for the `llmspell` (Lua) and
`llmspell-python` kernelspecs: every attribute set, nothing skipped."""

from __future__ import annotations

import jupyter_kernel_test as jkt
import pytest

pytestmark = pytest.mark.slow


class _SharedKernel:
    """The `class_kernel` fixture starts the kernel (isolated env) instead of setUpClass.

    (jupyter_kernel_test is imported as a module so pytest does not collect its base classes,
    which would test the python3 kernel.)
    """

    @classmethod
    def setUpClass(cls) -> None:
        return None

    @classmethod
    def tearDownClass(cls) -> None:
        return None


@pytest.mark.usefixtures("class_kernel")
class TestLuaKernel(_SharedKernel, jkt.KernelTests):
    kernel_name = "llmspell"
    language_name = "lua"
    file_extension = ".lua"

    code_hello_world = 'print("hello, world")'
    code_stderr = 'io.stderr:write("something went wrong\\n")'
    completion_samples = [
        {"text": "string.up", "matches": {"string.upper"}},
        {"text": "State.l", "matches": {"State.list_backups", "State.list_keys", "State.load"}},
        {"text": "whil", "matches": {"while"}},
    ]
    complete_code_samples = ["x = 1", "1 + 1", "for i = 1, 3 do end", 'print("a")']
    incomplete_code_samples = ["for i = 1, 3 do", "function f(x)", "t = {", "if x then"]
    invalid_code_samples = ["x = = 1", "end", "local 1 = 2"]
    code_page_something = "?State.save"
    code_generate_error = 'error("boom")'
    code_execute_result = [
        {"code": "6*7", "result": "42"},
        {"code": '"ab" .. "c"', "result": '"abc"'},
        {"code": "1.5", "result": "1.5"},
        {"code": "{{n = 1}, {n = 2}}", "mime": "text/html"},
    ]
    code_display_data = [
        {"code": 'Display.html("<b>hi</b>")', "mime": "text/html"},
        {"code": 'Display.markdown("*hi*")', "mime": "text/markdown"},
        {"code": "display({{a = 1}})", "mime": "text/html"},
    ]
    code_history_pattern = "6*7"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "State.save"
    code_clear_output = "Display.clear()"


@pytest.mark.usefixtures("class_kernel")
class TestLuaIopubWelcome(_SharedKernel, jkt.IopubWelcomeTests):
    kernel_name = "llmspell"
    support_iopub_welcome = True


@pytest.mark.usefixtures("class_kernel")
class TestPythonKernel(_SharedKernel, jkt.KernelTests):
    kernel_name = "llmspell-python"
    language_name = "python"
    file_extension = ".py"

    code_hello_world = 'print("hello, world")'
    code_stderr = 'import sys\nprint("something went wrong", file=sys.stderr)'
    completion_samples = [
        {"text": "State.l", "matches": {"State.list_backups", "State.list_keys", "State.load"}},
        {"text": "str.upp", "matches": {"str.upper"}},
        {"text": "isinst", "matches": {"isinstance"}},
    ]
    complete_code_samples = ["x = 1", "1 + 1", "for i in range(3):\n    pass\n", 'print("a")']
    incomplete_code_samples = ["for i in range(3):", "def f(x):", "t = [1,", "if x:"]
    invalid_code_samples = ["x = = 1", "1 +* 2"]
    code_page_something = "?State.save"
    code_generate_error = 'raise ValueError("boom")'
    code_execute_result = [
        {"code": "6*7", "result": "42"},
        {"code": '"ab" + "c"', "result": "'abc'"},
        {"code": '[{"n": 1}, {"n": 2}]', "mime": "text/html"},
    ]
    code_display_data = [
        {"code": 'Display.html("<b>hi</b>")', "mime": "text/html"},
        {"code": 'Display.markdown("*hi*")', "mime": "text/markdown"},
        {"code": 'display([{"a": 1}])', "mime": "text/html"},
    ]
    code_history_pattern = "6*7"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "State.save"
    code_clear_output = "Display.clear()"


@pytest.mark.usefixtures("class_kernel")
class TestPythonIopubWelcome(_SharedKernel, jkt.IopubWelcomeTests):
    kernel_name = "llmspell-python"
    support_iopub_welcome = True
