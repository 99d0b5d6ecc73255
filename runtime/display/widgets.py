"""Widgets for scripts (ipywidgets over Jupyter comms): the kinds a script can make, the link
to a front end that only the kernel has, and where a callback's output goes.

The kernel installs the comms (`comm.create_comm`, its comm manager for messages from the front
end) and calls `WidgetHost.connect`; elsewhere (`llmspell run`/`exec`) there is no front end and
`Widget.*` says so. A callback a front end's message starts runs between cells through
`ScriptRuntime.run_callback`, under the script's limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from llmspell.runtime.results import OutputSink, StdinNotAvailable

WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"

# ScriptRuntime.run_callback: (function, arguments, sink or None for the usual one)
RunCallback = Callable[[Callable[..., Any], Sequence[Any], OutputSink | None], None]


class WidgetHost:
    """What widgets need from the process they live in: whether a front end is connected, and
    a way to run a script's callback later under the script's limits."""

    def __init__(self, run_callback: RunCallback) -> None:
        self._run_callback = run_callback
        self.connected = False
        self._targets_registered = False

    def connect(self) -> None:
        """Comms reach a Jupyter front end from now on (the kernel calls this once it has
        installed them)."""
        self.connected = True

    def prepare(self) -> None:
        """Before the first widget: register ipywidgets' comm targets, so a front end that
        reconnects (a reloaded page) can ask for the widgets' state and show them again.
        (ipywidgets registers them itself only under IPython; importing it costs 0.2 s, so
        not at kernel start.)"""
        if not self._targets_registered:
            import ipywidgets

            ipywidgets.register_comm_target()
            self._targets_registered = True

    def fire(self, fn: Callable[..., Any], args: Sequence[Any], output: Any = None) -> None:
        """Run the callback `fn(*args)`; its output goes to the ipywidgets Output `output` when
        given, else where the script's output goes (in a kernel, the front end)."""
        sink = OutputWidgetSink(output) if output is not None else None
        self._run_callback(fn, args, sink)


class OutputWidgetSink:
    """An OutputSink that appends to an ipywidgets Output widget's outputs (state the front end
    shows wherever the widget is displayed, whichever message started the callback)."""

    def __init__(self, widget: Any) -> None:
        self._widget = widget

    def stdout(self, text: str) -> None:
        self._append({"output_type": "stream", "name": "stdout", "text": text})

    def stderr(self, text: str) -> None:
        self._append({"output_type": "stream", "name": "stderr", "text": text})

    def display(
        self,
        bundle: dict[str, Any],
        metadata: dict[str, Any],
        display_id: str | None = None,
        update: bool = False,
    ) -> None:
        self._append({"output_type": "display_data", "data": bundle, "metadata": metadata})

    def clear(self, wait: bool) -> None:
        self._widget.outputs = ()

    def page(self, text: str) -> None:
        self.stdout(text.rstrip("\n") + "\n")

    def input(self, prompt: str, password: bool) -> str:
        raise StdinNotAvailable("a widget callback cannot read input")

    def _append(self, output: dict[str, Any]) -> None:
        outputs = list(self._widget.outputs)
        last = outputs[-1] if outputs else None
        if (
            output["output_type"] == "stream"
            and last is not None
            and last.get("output_type") == "stream"
            and last.get("name") == output["name"]
        ):
            # one stream output per run of prints, as a cell's output area keeps them
            outputs[-1] = {**last, "text": last["text"] + output["text"]}
        else:
            outputs.append(output)
        self._widget.outputs = tuple(outputs)


class WidgetKind(NamedTuple):  # not a dataclass: making one costs every start ~0.5 ms
    """One `Widget.<name>{...}`: the options it takes (also the fields a script reads and
    assigns), and how it is made from them."""

    name: str
    options: tuple[str, ...]
    make: Callable[[dict[str, Any]], Any]
    has_value: bool = True
    clicks: bool = False


def _numeric(options: Mapping[str, Any], names: Sequence[str]) -> bool:
    """Whether every number given among `names` is an integer (an int widget; any float among
    them makes a float widget)."""
    return not any(isinstance(options.get(n), float) for n in names)


def _slider(options: dict[str, Any]) -> Any:
    import ipywidgets

    ints = _numeric(options, ("min", "max", "value", "step"))
    return (ipywidgets.IntSlider if ints else ipywidgets.FloatSlider)(**options)


def _progress(options: dict[str, Any]) -> Any:
    import ipywidgets

    ints = _numeric(options, ("min", "max", "value"))
    return (ipywidgets.IntProgress if ints else ipywidgets.FloatProgress)(**options)


def _made_by(class_name: str) -> Callable[[dict[str, Any]], Any]:
    def make(options: dict[str, Any]) -> Any:
        import ipywidgets

        return getattr(ipywidgets, class_name)(**options)

    return make


_COMMON = ("description", "disabled")
KINDS: dict[str, WidgetKind] = {
    kind.name: kind
    for kind in (
        WidgetKind(
            "slider",
            (
                "value",
                "min",
                "max",
                "step",
                *_COMMON,
                "orientation",
                "readout",
                "continuous_update",
            ),
            _slider,
        ),
        WidgetKind(
            "button",
            ("description", "disabled", "button_style", "tooltip", "icon"),
            _made_by("Button"),
            has_value=False,
            clicks=True,
        ),
        WidgetKind(
            "text", ("value", "placeholder", *_COMMON, "continuous_update"), _made_by("Text")
        ),
        WidgetKind("dropdown", ("options", "value", *_COMMON), _made_by("Dropdown")),
        WidgetKind("checkbox", ("value", *_COMMON, "indent"), _made_by("Checkbox")),
        WidgetKind(
            "progress",
            ("value", "min", "max", "description", "bar_style", "orientation"),
            _progress,
        ),
        WidgetKind("label", ("value",), _made_by("Label")),
        WidgetKind("output", (), _made_by("Output"), has_value=False),
        WidgetKind("hbox", ("children",), _made_by("HBox"), has_value=False),
        WidgetKind("vbox", ("children",), _made_by("VBox"), has_value=False),
    )
}


__all__ = ["KINDS", "WIDGET_VIEW_MIME", "OutputWidgetSink", "WidgetHost", "WidgetKind"]
