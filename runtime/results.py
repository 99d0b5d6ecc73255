"""What a ScriptRuntime call returns or raises, and the sink its output streams to."""

from __future__ import annotations

import sys
from typing import Any, Literal, NamedTuple, Protocol


class ScriptError(Exception):
    """A script failed. `ename` is the error class users see ("LuaError", "KeyboardInterrupt",
    "TimeoutError", "MemoryError", or an API error class); `traceback` holds the lines of the
    user's chunk (never Python internals unless verbose)."""

    def __init__(self, ename: str, evalue: str, traceback: list[str] | None = None) -> None:
        super().__init__(f"{ename}: {evalue}")
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback if traceback is not None else [f"{ename}: {evalue}"]


class ScriptExit(ScriptError):
    """The script asked to end the program (Python's `sys.exit(code)`): the kernel reports it
    and keeps running; `llmspell run` ends with `status`, as `python script.py` would."""

    def __init__(self, code: object) -> None:
        # Python's rule: None is success, an integer is the status, anything else is printed
        # and means failure.
        self.status = 0 if code is None else code if isinstance(code, int) else 1
        self.message = None if code is None or isinstance(code, int) else str(code)
        evalue = "" if code is None else str(code)
        super().__init__(
            "SystemExit",
            evalue,
            [
                f"SystemExit: {evalue}".rstrip(),
                "(the script asked to exit; in a kernel only the cell stops)",
            ],
        )


class StdinNotAvailable(RuntimeError):
    """The host cannot answer a read (no frontend stdin, or not a terminal). The message says
    why without naming a function: each engine puts its own in front (`io.read`, `input`)."""


class ExecutionResult:
    """The outcome of one `ScriptRuntime.execute`.

    A plain class, not a dataclass: a start makes none, so `llmspell exec` does without
    `dataclasses` and the `inspect` it imports (with `ast` and `dis`, ~4 ms)."""

    def __init__(self) -> None:
        self.value: Any = None  # Python value of the last expression (None if none)
        # False when there was no expression or it was nil / suppressed by `;`
        self.has_value = False
        self.bundle: dict[str, Any] = {}  # mime bundle of `value` for display
        self.stdout = ""  # captured only when no OutputSink is attached
        self.stderr = ""
        self.displays: list[dict[str, Any]] = []  # display() bundles when no sink
        self.pages: list[str] = []  # help() pages when no sink

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"ExecutionResult({fields})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)


# NamedTuples, not dataclasses: every start imports this module, and making a dataclass costs
# ~0.5 ms.
class Completion(NamedTuple):
    matches: list[str]
    cursor_start: int
    cursor_end: int


class CompletenessCheck(NamedTuple):
    status: Literal["complete", "incomplete", "invalid", "unknown"]
    indent: str = ""


class OutputSink(Protocol):
    """Where a running script's output goes as it happens (the kernel, the CLI, a test)."""

    def stdout(self, text: str) -> None: ...
    def stderr(self, text: str) -> None: ...
    def display(
        self,
        bundle: dict[str, Any],
        metadata: dict[str, Any],
        display_id: str | None = None,
        update: bool = False,
    ) -> None:
        """Show `bundle`. A `display_id` names a display that later calls with `update=True`
        replace in place (progress); a sink that cannot update may show only the first."""
        ...

    def clear(self, wait: bool) -> None: ...
    def page(self, text: str) -> None: ...
    def input(self, prompt: str, password: bool) -> str:
        """Ask the user for a line; raise StdinNotAvailable when that is impossible."""
        ...


class CapturingSink:
    """Collects output into an ExecutionResult (the default when no sink is given)."""

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result
        self._positions: dict[str, int] = {}  # display id -> index in result.displays

    def stdout(self, text: str) -> None:
        self.result.stdout += text

    def stderr(self, text: str) -> None:
        self.result.stderr += text

    def display(
        self,
        bundle: dict[str, Any],
        metadata: dict[str, Any],
        display_id: str | None = None,
        update: bool = False,
    ) -> None:
        if update and display_id in self._positions:
            self.result.displays[self._positions[display_id]] = bundle
            return
        if display_id is not None:
            self._positions[display_id] = len(self.result.displays)
        self.result.displays.append(bundle)

    def clear(self, wait: bool) -> None:
        self.result.displays.clear()
        self._positions.clear()

    def page(self, text: str) -> None:
        self.result.pages.append(text)

    def input(self, prompt: str, password: bool) -> str:
        raise StdinNotAvailable("no input is available (the script runs without stdin)")


class ConsoleSink:
    """Writes straight to this process's stdout/stderr (the CLI); rich output degrades to text."""

    def __init__(self) -> None:
        # The streams of the moment the sink is made: the Python engine redirects sys.stdout
        # to the sink while a script runs, so writing to sys.stdout here would loop.
        self._out = sys.stdout
        self._err = sys.stderr

    def stdout(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()

    def stderr(self, text: str) -> None:
        self._err.write(text)
        self._err.flush()

    def display(
        self,
        bundle: dict[str, Any],
        metadata: dict[str, Any],
        display_id: str | None = None,
        update: bool = False,
    ) -> None:
        if display_id is not None:
            return  # a display that updates in place (progress) has no place in a log
        text = bundle.get("text/markdown") or bundle.get("text/plain") or ""
        self.stdout(str(text).rstrip("\n") + "\n")

    def clear(self, wait: bool) -> None:
        return None

    def page(self, text: str) -> None:
        self.stdout(text.rstrip("\n") + "\n")

    def input(self, prompt: str, password: bool) -> str:
        if prompt:
            self.stdout(prompt)
        line = sys.stdin.readline()
        if line == "":
            raise StdinNotAvailable("end of input")
        return line.rstrip("\n")
