"""The runtime's OutputSink inside the kernel: what a script prints, displays, pages or asks
for goes to the front end as Jupyter messages while the cell runs."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any

from IPython.core.error import StdinNotImplementedError

from llmspell.runtime.results import StdinNotAvailable

if TYPE_CHECKING:
    from llmspell.kernel.kernel import LLMSpellKernel


class FrontendSink:
    """The runtime's OutputSink inside the kernel: output goes to the frontend as it happens."""

    def __init__(self, kernel: LLMSpellKernel) -> None:
        self._kernel = kernel

    def stdout(self, text: str) -> None:
        self._kernel.publish("stream", {"name": "stdout", "text": text})

    def stderr(self, text: str) -> None:
        self._kernel.publish("stream", {"name": "stderr", "text": text})

    def display(
        self,
        bundle: dict[str, Any],
        metadata: dict[str, Any],
        display_id: str | None = None,
        update: bool = False,
    ) -> None:
        transient = {} if display_id is None else {"display_id": display_id}
        kind = "update_display_data" if update and display_id is not None else "display_data"
        self._kernel.publish(kind, {"data": bundle, "metadata": metadata, "transient": transient})

    def clear(self, wait: bool) -> None:
        self._kernel.publish("clear_output", {"wait": wait})

    def page(self, text: str) -> None:
        """A help page goes back as the reply's pager payload. A client that cannot answer
        input (nbclient, nbconvert, papermill: `allow_stdin` false) shows no pager either and
        drops the payload, so it also gets the text as output, where help was called."""
        self._kernel.pages.append(text)
        if not self._kernel.interactive_client:
            self.display({"text/plain": text}, {})

    def set_next_input(self, text: str) -> None:
        """`%load`: the front end replaces the cell with `text` (the reply's payload)."""
        self._kernel.next_input = text

    def input(self, prompt: str, password: bool) -> str:
        """Ask the frontend for a line (`input_request`); Ctrl-C while waiting interrupts."""
        on_main_thread = threading.current_thread() is threading.main_thread()
        # The runtime's own SIGINT handler only sets a flag its Lua hook polls, and no Lua runs
        # while we wait on the stdin socket, so let SIGINT raise here instead.
        previous = (
            signal.signal(signal.SIGINT, signal.default_int_handler) if on_main_thread else None
        )
        try:
            return self._kernel.getpass(prompt) if password else self._kernel.raw_input(prompt)
        except StdinNotImplementedError:
            raise StdinNotAvailable(
                "this frontend does not accept input (the request has allow_stdin=false)"
            ) from None
        except EOFError:
            raise StdinNotAvailable("end of input") from None
        except KeyboardInterrupt:
            self._kernel.runtime_interrupt()
            raise StdinNotAvailable("interrupted") from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
