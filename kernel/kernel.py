"""The Jupyter kernel: translates Jupyter messages into `ScriptRuntime` calls and back.
(Over ~450 lines: one handler per message type of one ipykernel class; start-up, output and
error replies live in kernel/startup.py, frontend.py and errors.py.)

Everything language-specific (values, completion, help text) is the runtime's job; this class
only forwards what the runtime produces, as ipykernel's wrapper-kernel pattern intends.
"""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipykernel._version import kernel_protocol_version
from ipykernel.jsonutil import json_clean
from ipykernel.kernelbase import Kernel
from traitlets import Unicode

from llmspell import __version__
from llmspell.kernel.errors import error_content, internal_error
from llmspell.kernel.frontend import FrontendSink
from llmspell.kernel.history import HistoryEntry, KernelHistory
from llmspell.kernel.requests import request_problem
from llmspell.kernel.startup import RuntimeStartup
from llmspell.runtime.engines import IMPLEMENTATION, LANGUAGE_INFO
from llmspell.runtime.results import ScriptError

if TYPE_CHECKING:
    from llmspell.runtime import ScriptRuntime

# An ipykernel message handler: (stream, ident, parent message) → maybe awaitable.
Handler = Callable[[Any, Any, dict[str, Any]], Awaitable[None] | None]


def _help_links() -> list[dict[str, str]]:
    """Links to the docs of the checkout this kernel runs from (editable installs); a wheel
    carries no docs, so it advertises none rather than a guessed address."""
    docs = Path(__file__).resolve().parents[1] / "docs"
    pages = [
        ("llmspell user guide", docs / "user-guide" / "01-getting-started.md"),
        ("llmspell configuration", docs / "user-guide" / "02-configuration.md"),
        ("llmspell script API", docs / "reference" / "lua-api.md"),
    ]
    return [{"text": text, "url": path.as_uri()} for text, path in pages if path.is_file()]


HELP_LINKS = _help_links()
# From the first kernel_info reply to building the runtime (see kernel_info_request).
BUILD_DELAY_S = 0.1


class LLMSpellKernel(Kernel):
    """Jupyter kernel over one ScriptRuntime (Lua by default, `--engine python`)."""

    implementation = "llmspell"
    implementation_version = __version__
    engine = Unicode("lua", help="Script engine of this kernel: lua or python.").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pages: list[str] = []
        self.next_input: str | None = None  # %load: the text the front end puts in the cell
        self._silent = False
        self._executing = False
        # the runtime and the history, built on a thread of their own once the first
        # kernel_info is answered (or by the first request that needs them)
        self._startup = RuntimeStartup(self.engine, FrontendSink(self), self.log, self._built)
        self._shut_down = False
        self._closing = threading.Lock()
        self._closed = False
        self._install_comms()
        for handlers in (self.shell_handlers, self.control_handlers):
            for msg_type, handler in handlers.items():
                handlers[msg_type] = self._answering(handler)

    async def kernel_info_request(self, stream: Any, ident: Any, parent: dict[str, Any]) -> None:
        await super().kernel_info_request(stream, ident, parent)
        # A moment later, once the reply and the `idle` status are out and the client that
        # asked has subscribed to IOPub (its iopub_welcome must come first); a request that
        # needs the runtime sooner starts the build itself.
        asyncio.get_running_loop().call_later(BUILD_DELAY_S, self._startup.begin)

    @property
    def runtime(self) -> ScriptRuntime | None:
        """The script runtime, once built (see kernel/startup.py)."""
        return self._startup.runtime

    @property
    def history(self) -> KernelHistory | None:
        return self._startup.history

    def _built(self) -> None:
        # a shutdown that came while the runtime was being built closes it now
        if self._shut_down:
            self._close()

    def _install_comms(self) -> None:
        """Comms for widgets, as ipykernel's IPython kernel installs them: `comm.create_comm`
        makes ipykernel's comms (they publish on this kernel's IOPub), and the front end's
        comm_open/comm_msg/comm_close reach ipywidgets through one comm manager. A widget
        callback a comm_msg starts runs through the runtime under the script's limits."""
        import comm
        from ipykernel.comm import CommManager
        from ipykernel.comm.comm import BaseComm

        manager = CommManager(kernel=self)
        self.comm_manager = manager
        comm.create_comm = BaseComm
        comm.get_comm_manager = lambda: manager
        for msg_type in ("comm_open", "comm_msg", "comm_close"):
            self.shell_handlers[msg_type] = self._handling_comms(getattr(manager, msg_type))

    def _handling_comms(self, handler: Callable[[Any, Any, dict[str, Any]], None]) -> Handler:
        def handle(stream: Any, ident: Any, parent: dict[str, Any]) -> None:
            # a callback runs script code: a shutdown meanwhile must not close the runtime
            self._executing = True
            try:
                handler(stream, ident, parent)
            finally:
                self._executing = False

        return handle

    @property
    def kernel_info(self) -> dict[str, Any]:
        # No "kernel subshells" or "debugger": one runtime runs one cell at a time.
        # Answered without waiting for the runtime: until it is built the banner says so.
        rt = self.runtime
        if rt is not None:
            banner = rt.banner
        elif self._startup.error is not None:
            banner = f"llmspell ({self._startup.error})"
        else:
            banner = (
                f"llmspell {__version__} - {IMPLEMENTATION[self.engine]} engine, starting "
                "(storage and tenant: %config)\nhelp() lists the globals; ?name shows docs."
            )
        return {
            "protocol_version": kernel_protocol_version,
            "implementation": self.implementation,
            "implementation_version": self.implementation_version,
            "language_info": rt.language_info if rt else dict(LANGUAGE_INFO[self.engine]),
            "banner": banner,
            "help_links": HELP_LINKS,
            "supported_features": [],
        }

    def publish(self, msg_type: str, content: dict[str, Any]) -> None:
        """Send an IOPub message for the current request (nothing while executing silently)."""
        if self._silent or not self.session:
            return
        self.session.send(
            self.iopub_socket,
            msg_type,
            content,
            parent=self.get_parent("shell"),
            ident=self._topic(msg_type),
        )

    @property
    def interactive_client(self) -> bool:
        """Whether the running request came from a client a user works in (it allows stdin)."""
        return bool(self._allow_stdin)

    def runtime_interrupt(self) -> None:
        """Ask the running script to stop (KeyboardInterrupt)."""
        if self.runtime is not None:
            self.runtime.interrupt()

    # --- requests: checked before ipykernel's handlers read them, always answered ---------------

    def _answering(self, handler: Handler) -> Handler:
        """`handler` behind the request checks: a malformed request, or one whose handler
        fails, gets an error reply naming what was wrong (ipykernel would only log it, and the
        client would wait for a reply forever)."""

        async def answer(stream: Any, ident: Any, parent: dict[str, Any]) -> None:
            header = parent.get("header", {})
            msg_type = header.get("msg_type", "") if isinstance(header, dict) else ""
            problem = request_problem(msg_type, parent.get("content"), parent.get("metadata"))
            if problem is not None:
                self._reply_error(stream, ident, parent, ScriptError("ValueError", problem))
                return
            try:
                result = handler(stream, ident, parent)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                self.log.error("%s failed", msg_type, exc_info=True)
                self._reply_error(stream, ident, parent, internal_error(exc))

        return answer

    def _reply_error(
        self, stream: Any, ident: Any, parent: dict[str, Any], err: ScriptError
    ) -> None:
        msg_type = parent["header"]["msg_type"]
        if not self.session or not msg_type.endswith("_request"):
            return  # one-way messages (comm_open, comm_msg, ...) get no reply
        reply = error_content(err)
        if msg_type == "execute_request":
            reply["execution_count"] = self.execution_count
        self.session.send(stream, msg_type.replace("_request", "_reply"), reply, parent, ident)

    async def execute_request(self, stream: Any, ident: Any, parent: dict[str, Any]) -> None:
        content = parent["content"]
        silent = bool(content.get("silent", False))
        if not silent and not content.get("store_history", True):
            # ipykernel advances the counter for every request that is not silent; the protocol
            # advances it only for those that store history. Step back so its step lands here.
            self.execution_count -= 1
        await super().execute_request(stream, ident, parent)

    async def history_request(self, stream: Any, ident: Any, parent: dict[str, Any]) -> None:
        # ipykernel passes the content as keywords: `output` and `raw` are optional in the
        # protocol but required by its do_history signature, and null means "not given".
        if not self.session:
            return
        given = {k: v for k, v in parent["content"].items() if v is not None}
        reply = await self.do_history(**{"output": False, "raw": False, **given})
        self.session.send(stream, "history_reply", json_clean(reply), parent, ident)

    async def do_debug_request(self, msg: Any) -> dict[str, Any]:
        """A Debug Adapter Protocol response that says no: kernel_info lists no "debugger"."""
        seq, command = msg.get("seq"), msg.get("command")
        return {
            "type": "response",
            "request_seq": seq if isinstance(seq, int) and not isinstance(seq, bool) else 0,
            "success": False,
            "command": command if isinstance(command, str) else "",
            "message": 'llmspell has no debugger (kernel_info lists no "debugger" feature)',
        }

    async def create_subshell_request(self, stream: Any, ident: Any, parent: Any) -> None:
        self._refuse_subshells(stream, ident, parent)

    async def delete_subshell_request(self, stream: Any, ident: Any, parent: Any) -> None:
        self._refuse_subshells(stream, ident, parent)

    async def list_subshell_request(self, stream: Any, ident: Any, parent: Any) -> None:
        self._refuse_subshells(stream, ident, parent)

    def _refuse_subshells(self, stream: Any, ident: Any, parent: dict[str, Any]) -> None:
        # ipykernel logs and sends nothing when a kernel has no subshells.
        message = (
            f"{parent['header']['msg_type']}: this kernel has no subshells (kernel_info lists no "
            '"kernel subshells" feature): one runtime runs one cell at a time'
        )
        self._reply_error(stream, ident, parent, ScriptError("NotSupported", message))

    async def do_execute(
        self,
        code: str,
        silent: bool,
        store_history: bool = True,
        user_expressions: dict[str, str] | None = None,
        allow_stdin: bool = False,
        *,
        cell_meta: dict[str, Any] | None = None,
        cell_id: str | None = None,
    ) -> dict[str, Any]:
        self._allow_stdin = allow_stdin
        self._silent = silent
        self.pages = []
        self.next_input = None
        count = self.execution_count
        output: str | None = None
        try:
            result = self._run(code, f"[cell {count}]")
        except ScriptError as err:
            reply = error_content(err)
            self.publish("error", {k: reply[k] for k in ("ename", "evalue", "traceback")})
        else:
            reply = {"status": "ok", "payload": [], "user_expressions": {}}
            if result.has_value:
                output = result.bundle.get("text/plain")
                self.publish(
                    "execute_result",
                    {"execution_count": count, "data": result.bundle, "metadata": {}},
                )
            if self.pages and not silent:
                page = {"text/plain": "\n".join(self.pages)}
                reply["payload"] = [{"source": "page", "data": page, "start": 0}]
            if self.next_input is not None and not silent:
                reply["payload"].append(
                    {"source": "set_next_input", "text": self.next_input, "replace": True}
                )
            if user_expressions:
                reply["user_expressions"] = self._evaluate(user_expressions)
        finally:
            self._silent = False
            self._allow_stdin = False
        if store_history and not silent:
            self._remember(count, code, output)
        reply["execution_count"] = count
        return reply

    async def do_complete(self, code: str, cursor_pos: int | None) -> dict[str, Any]:
        pos = len(code) if cursor_pos is None else cursor_pos
        try:
            runtime = self._startup.wait()
            if runtime is None:
                return {
                    "status": "ok",
                    "matches": [],
                    "cursor_start": pos,
                    "cursor_end": pos,
                    "metadata": {},
                }
            completion = runtime.complete(code, pos)
        except ScriptError as err:
            return error_content(err)
        except Exception as exc:
            return error_content(internal_error(exc))
        return {
            "status": "ok",
            "matches": completion.matches,
            "cursor_start": completion.cursor_start,
            "cursor_end": completion.cursor_end,
            "metadata": {},
        }

    async def do_inspect(
        self,
        code: str,
        cursor_pos: int | None,
        detail_level: int = 0,
        omit_sections: Any = (),
    ) -> dict[str, Any]:
        pos = len(code) if cursor_pos is None else cursor_pos
        try:
            runtime = self._startup.wait()
            bundle = None if runtime is None else runtime.inspect(code, pos, detail_level)
        except ScriptError as err:
            return error_content(err)
        except Exception as exc:
            return error_content(internal_error(exc))
        return {"status": "ok", "found": bundle is not None, "data": bundle or {}, "metadata": {}}

    async def do_is_complete(self, code: str) -> dict[str, Any]:
        try:
            runtime = self._startup.wait()
            if runtime is None:
                return {"status": "unknown"}
            check = runtime.is_complete(code)
        except ScriptError as err:
            return error_content(err)
        except Exception as exc:
            return error_content(internal_error(exc))
        reply: dict[str, Any] = {"status": check.status}
        if check.status == "incomplete":
            reply["indent"] = check.indent
        return reply

    async def do_history(
        self,
        hist_access_type: str,
        output: bool,
        raw: bool,
        session: int | None = None,
        start: int | None = None,
        stop: int | None = None,
        n: int | None = None,
        pattern: str | None = None,
        unique: bool = False,
        **_unused: Any,
    ) -> dict[str, Any]:
        # Only raw input is stored (there is no input transformation), so `raw` changes nothing.
        entries: list[HistoryEntry]
        try:
            self._startup.wait()
        except ScriptError as interrupted:
            return error_content(interrupted)
        history = self.history
        if history is None:
            assert self._startup.error is not None
            return error_content(self._startup.error)
        try:
            if hist_access_type == "tail":
                entries = history.tail(n, output)
            elif hist_access_type == "range":
                entries = history.range(session or 0, 1 if start is None else start, stop, output)
            elif hist_access_type == "search":
                entries = history.search(pattern or "*", n, unique, output)
            else:
                err = ScriptError(
                    "ValueError",
                    f"unknown hist_access_type {hist_access_type!r}; allowed: tail, range, search",
                )
                return error_content(err)
        except sqlite3.Error as exc:
            return error_content(ScriptError("HistoryError", f"{history.path}: {exc}"))
        return {"status": "ok", "history": entries}

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:
        # Runs on the control thread. A runtime still being built is closed once it is.
        self._shut_down = True
        if self._startup.done:
            self._close()
        return {"status": "ok", "restart": restart}

    def _close(self) -> None:
        with self._closing:
            if self._closed:
                return
            self._closed = True
            if self.runtime is not None:
                # never close the runtime under a running cell
                if self._executing:
                    self.runtime.interrupt()
                else:
                    self.runtime.close()
            if self.history is not None:
                self.history.close()

    def pre_handler_hook(self) -> None:
        # ipykernel would make SIGINT raise KeyboardInterrupt in whatever Python runs. Between
        # cells there is nothing to interrupt, and during a cell the runtime installs its own
        # handler, so SIGINT stays ignored here (the app's SIG_IGN).
        return None

    def post_handler_hook(self) -> None:
        return None

    def _run(self, code: str, name: str) -> Any:
        runtime = self._startup.require()
        self._executing = True
        try:
            return runtime.execute(code, name=name)
        except ScriptError:
            raise
        except KeyboardInterrupt:
            raise ScriptError("KeyboardInterrupt", "interrupted") from None
        except Exception as exc:
            raise internal_error(exc) from exc
        finally:
            self._executing = False

    def _evaluate(self, expressions: dict[str, str]) -> dict[str, Any]:
        """user_expressions: evaluate each quietly and return its mime bundle."""
        results: dict[str, Any] = {}
        self._silent = True
        for key, expression in expressions.items():
            try:
                value = self._run(expression, "[user expression]")
            except ScriptError as err:
                results[key] = error_content(err)
            else:
                results[key] = {"status": "ok", "data": value.bundle, "metadata": {}}
        return results

    def _remember(self, line: int, source: str, output: str | None) -> None:
        history = self.history
        if history is None:  # interrupted while the runtime was starting
            return
        try:
            history.store(line, source, output)
        except sqlite3.Error as exc:
            self.log.warning("history not saved to %s: %s", history.path, exc)
