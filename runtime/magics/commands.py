"""IPython-style magics for notebook users, run by the runtime for every host (kernel, CLI):
lines starting with `%` (never valid Lua or Python there) and `!cmd` shell escapes.

`%time`/`%%time`, `%timeit`/`%%timeit`, `%who`, `%reset`, `%lsmagic`, `%config [path]`, and
from runtime/magics/workspace.py `%run`, `%load`, `%history`, `%env`, `%who_ls`. A cell
with magic lines runs in parts: the code between them, each magic, in order (Lua `local`s end
at a magic line); the last part's value is the cell's result. `!cmd` runs only when the engine
is trusted (`engines.lua.security = "trusted"`, or the Python engine).
"""

from __future__ import annotations

import math
import os
import re
import resource
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from llmspell.runtime.config import format_sources
from llmspell.runtime.magics.cells import CellMagic, Code, LineMagic, Part, Shell, cell_parts
from llmspell.runtime.magics.workspace import WorkspaceMagics
from llmspell.runtime.results import Completion, OutputSink, ScriptError

if TYPE_CHECKING:
    import subprocess

    from llmspell.runtime.config import LLMSpellConfig
    from llmspell.runtime.script_runtime import Engine

# (has_value, value, bundle): what Engine.execute returns
Outcome = tuple[bool, Any, dict[str, Any]]
NOTHING: Outcome = (False, None, {})
ConfigRows = Callable[[], list[tuple[str, Any, str]]]

_TYPING_MAGIC = re.compile(r"[ \t]*(%%?\w*)$")
TIMEIT_TARGET_S = 0.2  # as IPython: loops per run grow until one run takes this long
TIMEIT_REPEAT = 7


class Magics:
    """Runs the parts of a cell against one engine."""

    def __init__(
        self, engine: Engine, config_rows: ConfigRows, config: LLMSpellConfig, inputs: list[str]
    ) -> None:
        """`inputs`: every cell the runtime ran, in order (%history reads them)."""
        self._engine = engine
        self._config_rows = config_rows
        self._interrupted = threading.Event()
        self.workspace = WorkspaceMagics(engine, config, inputs)
        workspace = {
            "env": self.workspace.env,
            "history": self.workspace.history,
            "load": self.workspace.load,
            "run": self.workspace.run_file,
            "who_ls": self.workspace.who_ls,
        }
        self._line_magics: dict[str, Callable[[LineMagic, str, OutputSink], Outcome]] = {
            **{name: _with_args(fn) for name, fn in workspace.items()},
            "config": self._config,
            "lsmagic": self._lsmagic,
            "reset": self._reset,
            "time": self._time_line,
            "timeit": self._timeit_line,
            "who": self._who,
        }
        self._cell_magics: dict[str, Callable[[CellMagic, str, OutputSink], Outcome]] = {
            "time": self._time_cell,
            "timeit": self._timeit_cell,
        }

    def complete(self, code: str, cursor_pos: int) -> Completion | None:
        """Magic names when the line so far is `%ti` or `%%ti`, else None."""
        m = _TYPING_MAGIC.match(code[:cursor_pos].rsplit("\n", 1)[-1])
        if m is None:
            return None
        typed = m.group(1)
        names = [f"%{n}" for n in self._line_magics] + [f"%%{n}" for n in self._cell_magics]
        matches = sorted(n for n in names if n.startswith(typed))
        return Completion(matches, cursor_pos - len(typed), cursor_pos)

    def interrupt(self) -> None:
        """Stop a running shell command or timing loop (the engine stops its own code)."""
        self._interrupted.set()

    def run(self, parts: Sequence[Part], name: str, sink: OutputSink) -> Outcome:
        """Run the parts in order; the last one's value is the result."""
        self._interrupted.clear()
        outcome = NOTHING
        for part in parts:
            self._check_interrupt()
            outcome = self._run_part(part, name, sink)
        return outcome

    def _run_part(self, part: Part, name: str, sink: OutputSink) -> Outcome:
        if isinstance(part, Code):
            return self._engine.execute(part.text, name)
        if isinstance(part, Shell):
            return self._shell(part.command, sink)
        if isinstance(part, CellMagic):
            cell_magic = self._cell_magics.get(part.name)
            if cell_magic is None:
                raise _unknown(f"%%{part.name}", [f"%%{n}" for n in sorted(self._cell_magics)])
            return cell_magic(part, name, sink)
        line_magic = self._line_magics.get(part.name)
        if line_magic is None:
            raise _unknown(f"%{part.name}", [f"%{n}" for n in sorted(self._line_magics)])
        return line_magic(part, name, sink)

    def _run_text(self, text: str, name: str, sink: OutputSink) -> Outcome:
        """A cell body: code, or parts when it holds magic lines itself."""
        parts = cell_parts(text, self.compiles)
        return self._engine.execute(text, name) if parts is None else self.run(parts, name, sink)

    def compiles(self, code: str) -> bool:
        """Whether `code` is complete code of the engine (the probe of magic_lines)."""
        return self._engine.is_complete(code).status == "complete"

    def _check_interrupt(self) -> None:
        if self._interrupted.is_set():
            raise ScriptError("KeyboardInterrupt", "execution interrupted")

    # --- %time, %timeit -------------------------------------------------------------------------

    def _time_line(self, magic: LineMagic, name: str, sink: OutputSink) -> Outcome:
        if not magic.args:
            raise ScriptError(
                "UsageError", "%time: give a statement to time (%%time times the whole cell)"
            )
        code = _at_line(magic.args, magic.line)
        return self._timed(lambda: self._engine.execute(code, name), sink)

    def _time_cell(self, magic: CellMagic, name: str, sink: OutputSink) -> Outcome:
        if magic.args:
            raise ScriptError("UsageError", f"%%time takes no arguments, got {magic.args!r}")
        return self._timed(lambda: self._run_text(magic.body, name, sink), sink)

    def _timed(self, run: Callable[[], Outcome], sink: OutputSink) -> Outcome:
        cpu, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        outcome = run()
        wall_s, after = time.perf_counter() - wall, resource.getrusage(resource.RUSAGE_SELF)
        user, system = after.ru_utime - cpu.ru_utime, after.ru_stime - cpu.ru_stime
        sink.stdout(
            f"CPU times: user {format_time(user)}, sys: {format_time(system)}, "
            f"total: {format_time(user + system)}\nWall time: {format_time(wall_s)}\n"
        )
        return outcome

    def _timeit_line(self, magic: LineMagic, name: str, sink: OutputSink) -> Outcome:
        loops, repeat, code = _timeit_options(magic.args, "%timeit")
        if not code:
            raise ScriptError("UsageError", "%timeit: give a statement to time")
        self._timeit(_at_line(code, magic.line), loops, repeat, name, sink)
        return NOTHING

    def _timeit_cell(self, magic: CellMagic, name: str, sink: OutputSink) -> Outcome:
        loops, repeat, rest = _timeit_options(magic.args, "%%timeit")
        if rest:
            raise ScriptError("UsageError", f"%%timeit: unexpected {rest!r} (options: -n N -r R)")
        self._timeit(magic.body, loops, repeat, name, sink)
        return NOTHING

    def _timeit(
        self, code: str, loops: int | None, repeat: int, name: str, sink: OutputSink
    ) -> None:
        def run(n: int) -> float:
            # the loop is the engine's own code, so one call times n executions of `code`
            source = self._engine.timing_source(code, n)
            self._check_interrupt()
            started = time.perf_counter()
            self._engine.execute(source, name)
            return time.perf_counter() - started

        if loops is None:
            for power in range(10):
                loops = 10**power
                if run(loops) >= TIMEIT_TARGET_S:
                    break
        assert loops is not None
        per_loop = [run(loops) / loops for _ in range(repeat)]
        mean = sum(per_loop) / repeat
        spread = math.sqrt(sum((t - mean) ** 2 for t in per_loop) / repeat)
        sink.stdout(
            f"{format_time(mean)} ± {format_time(spread)} per loop (mean ± std. dev. of "
            f"{repeat} run{'s' if repeat != 1 else ''}, {loops:,} loop{'s' if loops != 1 else ''}"
            " each)\n"
        )

    # --- %who, %reset, %lsmagic, %config --------------------------------------------------------

    def _who(self, magic: LineMagic, name: str, sink: OutputSink) -> Outcome:
        wanted = set(magic.args.split())
        names = sorted(
            n for n, kind in self._engine.user_globals().items() if not wanted or kind in wanted
        )
        sink.stdout("\t".join(names) + "\n" if names else "No user globals defined.\n")
        return NOTHING

    def _reset(self, magic: LineMagic, name: str, sink: OutputSink) -> Outcome:
        # -f is IPython's "do not ask": accepted, since %reset here never asks
        if magic.args not in ("", "-f"):
            raise ScriptError("UsageError", f"%reset: unexpected {magic.args!r} (allowed: -f)")
        forgotten = self._engine.forget_user_globals()
        if forgotten:
            sink.stdout(f"Forgot {len(forgotten)}: {', '.join(sorted(forgotten))}\n")
        else:
            sink.stdout("No user globals to forget.\n")
        return NOTHING

    def _lsmagic(self, magic: LineMagic, name: str, sink: OutputSink) -> Outcome:
        shell = "allowed" if self._engine.trusted else 'needs engines.lua.security = "trusted"'
        sink.stdout(
            "Line magics: "
            + "  ".join(f"%{n}" for n in sorted(self._line_magics))
            + "\nCell magics: "
            + "  ".join(f"%%{n}" for n in sorted(self._cell_magics))
            + f"\nShell commands: !command ({shell})\n"
        )
        return NOTHING

    def _config(self, magic: LineMagic, name: str, sink: OutputSink) -> Outcome:
        rows = self._config_rows()
        path = magic.args
        if path:
            rows = [r for r in rows if r[0] == path or r[0].startswith(f"{path}.")]
            if not rows:
                sections = sorted({key.split(".")[0] for key, _, _ in self._config_rows()})
                raise ScriptError(
                    "UsageError",
                    f"%config: no setting or section {path!r}; sections: {', '.join(sections)}",
                )
        sink.stdout(format_sources(rows))
        return NOTHING

    # --- !command ---------------------------------------------------------------------------------

    def _shell(self, command: str, sink: OutputSink) -> Outcome:
        if not self._engine.trusted:
            raise ScriptError(
                "PermissionError",
                f'!{command}: shell commands need engines.lua.security = "trusted"; '
                "this runtime runs scripts in the sandbox",
            )
        if not command:
            raise ScriptError("UsageError", "!: give a shell command (!ls -l)")
        import subprocess  # here: most runtimes never run a shell command

        timeout_s = self._engine.timeout_s
        deadline = time.monotonic() + timeout_s if timeout_s > 0 else None
        proc = subprocess.Popen(
            command,
            shell=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            for stream, text in _output_of(proc, self._interrupted, deadline):
                (sink.stdout if stream == "stdout" else sink.stderr)(text)
        finally:
            if proc.poll() is None:
                proc.kill()
            status = proc.wait()
        self._check_interrupt()
        if deadline is not None and time.monotonic() > deadline and status < 0:
            raise ScriptError(
                "TimeoutError", f"!{command}: exceeded the time limit of {timeout_s:g} s"
            )
        if status != 0:
            sink.stderr(f"(exit status {status})\n")
        return NOTHING


def _output_of(
    proc: subprocess.Popen[bytes], interrupted: threading.Event, deadline: float | None
) -> Iterator[tuple[str, str]]:
    """("stdout" | "stderr", text) as the command writes it, until it ends, is interrupted or
    runs out of time (then it is killed)."""
    import selectors

    assert proc.stdout is not None and proc.stderr is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, "stdout")
        selector.register(proc.stderr, selectors.EVENT_READ, "stderr")
        while selector.get_map():
            if interrupted.is_set() or (deadline is not None and time.monotonic() > deadline):
                proc.kill()
                return
            for key, _ in selector.select(timeout=0.05):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fileobj)
                else:
                    yield key.data, data.decode("utf-8", errors="replace")


def _timeit_options(args: str, magic: str) -> tuple[int | None, int, str]:
    """(-n loops or None, -r repeat, the rest) of `%timeit -n 100 -r 3 code`."""
    loops: int | None = None
    repeat = TIMEIT_REPEAT
    rest = args
    while True:
        m = re.match(r"-([nr])\s*(\S+)\s*", rest)
        if m is None:
            break
        if not m.group(2).isdigit() or int(m.group(2)) < 1:
            raise ScriptError(
                "UsageError", f"{magic}: -{m.group(1)} needs a positive integer, got {m.group(2)!r}"
            )
        if m.group(1) == "n":
            loops = int(m.group(2))
        else:
            repeat = int(m.group(2))
        rest = rest[m.end() :]
    if rest.startswith("-"):
        raise ScriptError(
            "UsageError", f"{magic}: unknown option {rest.split()[0]!r} (allowed: -n N, -r R)"
        )
    return loops, repeat, rest


def _with_args(
    fn: Callable[[str, OutputSink], Outcome],
) -> Callable[[LineMagic, str, OutputSink], Outcome]:
    def line_magic(magic: LineMagic, name: str, sink: OutputSink) -> Outcome:
        return fn(magic.args, sink)

    return line_magic


def _at_line(code: str, line: int) -> str:
    return "\n" * (line - 1) + code


def _unknown(name: str, available: list[str]) -> ScriptError:
    return ScriptError(
        "UsageError", f"{name}: no such magic; available: {', '.join(available)} (%lsmagic)"
    )


def format_time(seconds: float) -> str:
    """3 significant digits in s, ms, µs or ns, as IPython writes timings."""
    seconds = float(f"{seconds:.3g}")  # rounded first: 0.0009996 s is "1 ms", not "1e+03 µs"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"
