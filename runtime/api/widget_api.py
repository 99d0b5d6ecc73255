"""`Widget`: interactive controls in a notebook (ipywidgets over Jupyter comms) — sliders,
buttons, text, dropdowns, checkboxes, progress bars, output areas and boxes — whose callbacks
run script code under the script's limits. Only the kernel has a front end to show them."""

from __future__ import annotations

from typing import Any

from llmspell.runtime.api.arguments import check_options, require_table, type_name
from llmspell.runtime.api.base import ApiError, ApiNamespace, ApiObject, ValidationError
from llmspell.runtime.display import register_renderer
from llmspell.runtime.display.widgets import KINDS, WIDGET_VIEW_MIME, OutputWidgetSink, WidgetHost
from llmspell.storage.values import shown

CALLBACK_OPTIONS = frozenset({"output"})


class WidgetHandle(ApiObject):
    """A widget as scripts see it: its fields (`w.value`, `w.description`...) read and assign
    the front end's state; `on_change`/`on_click` register callbacks."""

    def __init__(self, kind: str, widget: Any, host: WidgetHost, handles: dict[int, Any]) -> None:
        object.__setattr__(self, "api_name", f"Widget.{kind}")
        object.__setattr__(self, "_kind", KINDS[kind])
        object.__setattr__(self, "_widget", widget)
        object.__setattr__(self, "_host", host)
        object.__setattr__(self, "_handles", handles)
        # on_click callbacks: ipywidgets' own dispatcher would log and swallow their errors
        object.__setattr__(self, "_clicks", [])
        handles[id(widget)] = self

    # --- fields ---------------------------------------------------------------------------------

    def _field_names(self) -> tuple[str, ...]:
        names: tuple[str, ...] = self._kind.options
        return names

    def _get_field(self, name: str) -> Any:
        self._check_field(name)
        return self._to_script(getattr(self._widget, name))

    def _set_field(self, name: str, value: Any) -> None:
        from traitlets import TraitError

        self._check_field(name)
        try:
            setattr(self._widget, name, self._to_widget(name, value))
        except TraitError as exc:
            raise ValidationError(
                f"{self.api_name}: {name} cannot be {type_name(value)} {shown(value)}: "
                f"{_trait_reason(exc)}"
            ) from None

    def __getattr__(self, name: str) -> Any:
        # the Python engine's `w.value` (only reached for names that are not methods)
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._get_field(name)
        except ApiError as exc:
            raise AttributeError(str(exc)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._set_field(name, value)

    def _check_field(self, name: Any) -> None:
        if name not in self._kind.options:
            fields = ", ".join(self._kind.options) or "none"
            raise ApiError(f"{self.api_name} has no field {shown(name)}; its fields: {fields}")

    def _to_script(self, value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [self._to_script(v) for v in value]
        handle = self._handles.get(id(value))
        return handle if handle is not None else value

    def _to_widget(self, name: str, value: Any) -> Any:
        if name == "children":
            return _children(self.api_name, value)
        if name == "options":
            if not isinstance(value, list):
                raise ValidationError(
                    f"{self.api_name}: options must be a list, got {type_name(value)}"
                )
            return tuple(value)
        return value

    # --- callbacks ------------------------------------------------------------------------------

    def on_change(self, fn: Any, options: Any = None) -> None:
        """Call `fn(value, old_value, widget)` whenever the value changes, in the front end or
        by the script. Options: `output` (a Widget.output) receives what the callback prints."""
        if not self._kind.has_value:
            hint = "; use on_click" if self._kind.clicks else ""
            raise ValidationError(f"{self.api_name}.on_change: this widget has no value{hint}")
        fn, output = self._callback("on_change", fn, options)
        handle = self

        def changed(change: dict[str, Any]) -> None:
            args = (self._to_script(change["new"]), self._to_script(change["old"]), handle)
            self._host.fire(fn, args, output)

        self._widget.observe(changed, names="value")

    def on_click(self, fn: Any, options: Any = None) -> None:
        """Call `fn(widget)` when the button is clicked. Options: `output` (a Widget.output)
        receives what the callback prints."""
        if not self._kind.clicks:
            raise ValidationError(f"{self.api_name}.on_click: only a button is clicked")
        fn, output = self._callback("on_click", fn, options)
        if not self._clicks:
            self._widget.on_click(lambda _button: self._clicked())
        self._clicks.append((fn, output))

    def click(self) -> None:
        """Click the button from the script: its on_click callbacks run now, in this cell
        (an error in one is the cell's)."""
        if not self._kind.clicks:
            raise ValidationError(f"{self.api_name}.click: only a button is clicked")
        self._clicked()

    def _clicked(self) -> None:
        for fn, output in list(self._clicks):
            self._host.fire(fn, (self,), output)

    def _callback(self, method: str, fn: Any, options: Any) -> tuple[Any, Any]:
        if not callable(fn):
            raise ValidationError(
                f"{self.api_name}.{method}: fn must be a function, got {type_name(fn)}"
            )
        opts = require_table(f"{self.api_name}.{method}", "options", options)
        check_options(f"{self.api_name}.{method}", opts, CALLBACK_OPTIONS)
        output = opts.get("output")
        if output is not None and not (
            isinstance(output, WidgetHandle) and output._kind.name == "output"
        ):
            raise ValidationError(
                f"{self.api_name}.{method}: output must be a Widget.output, got {type_name(output)}"
            )
        return fn, None if output is None else output._widget

    # --- output areas ---------------------------------------------------------------------------

    def capture(self, fn: Any) -> None:
        """Run `fn()` now with what it prints and displays going into this output area."""
        self._require_output("capture")
        if not callable(fn):
            raise ValidationError(
                f"{self.api_name}.capture: fn must be a function, got {type_name(fn)}"
            )
        self._host.fire(fn, (), self._widget)

    def clear(self) -> None:
        """Empty this output area."""
        self._require_output("clear")
        OutputWidgetSink(self._widget).clear(False)

    def _require_output(self, method: str) -> None:
        if self._kind.name != "output":
            raise ValidationError(f"{self.api_name}.{method}: only a Widget.output has output")

    # --- life and looks -------------------------------------------------------------------------

    def close(self) -> None:
        """Remove the widget from the front end; it cannot be shown again."""
        self._handles.pop(id(self._widget), None)
        self._widget.close()

    def _bundle(self) -> dict[str, Any]:
        fields = ", ".join(
            f"{name}={shown(self._get_field(name))}"
            for name in self._kind.options
            if name in ("value", "description", "min", "max") and self._get_field(name) != ""
        )
        return {
            "text/plain": f"{self.api_name}({fields})",
            WIDGET_VIEW_MIME: {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self._widget.model_id,
            },
        }

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        # the Python engine shows objects through IPython's display protocol
        return self._bundle()

    def __repr__(self) -> str:
        return f"<{self.api_name}>"


class WidgetApi(ApiNamespace):
    """Interactive controls for notebooks (ipywidgets): `s = Widget.slider{min=0, max=10,
    value=3}`; show one as a cell's last expression or with `display(s)`. Its options are
    fields: `s.value` reads what the front end shows, `s.value = 5` changes it there.
    `w:on_change(fn)` calls `fn(value, old_value, w)` on every change of the value, by the
    user or the script; `b:on_click(fn)` calls `fn(b)` when button b is clicked (`b:click()`
    clicks it from the script). A callback started by the front end runs between cells under
    the same time limit, interrupt and memory limit as a cell; what it prints goes to the
    Output widget given as `{output = out}` (`w:on_change(fn, {output = out})`), else to the
    front end's log (JupyterLab's log console), as do its errors. `w:close()` removes a
    widget. Widgets need the llmspell kernel: under `llmspell run`/`exec` Widget.* raises."""

    api_name = "Widget"

    def slider(self, options: Any = None) -> WidgetHandle:
        """A slider: `{value?, min?=0, max?=100, step?, description?, disabled?, orientation?,
        readout?, continuous_update?}`; integers make an integer slider, a float a float one."""
        return self._make("slider", options)

    def button(self, options: Any = None) -> WidgetHandle:
        """A button: `{description?, disabled?, button_style?, tooltip?, icon?}`; `on_click`."""
        return self._make("button", options)

    def text(self, options: Any = None) -> WidgetHandle:
        """A one-line text box: `{value?, placeholder?, description?, disabled?,
        continuous_update?}`."""
        return self._make("text", options)

    def dropdown(self, options: Any = None) -> WidgetHandle:
        """A dropdown: `{options = {...}, value?, description?, disabled?}`; `value` is one of
        the options (default: the first)."""
        return self._make("dropdown", options)

    def checkbox(self, options: Any = None) -> WidgetHandle:
        """A checkbox: `{value?=false, description?, disabled?, indent?}`."""
        return self._make("checkbox", options)

    def progress(self, options: Any = None) -> WidgetHandle:
        """A progress bar: `{value?, min?=0, max?=100, description?, bar_style?,
        orientation?}`; assign `p.value` as work proceeds."""
        return self._make("progress", options)

    def label(self, options: Any = None) -> WidgetHandle:
        """A line of text: `{value}`."""
        return self._make("label", options)

    def output(self, options: Any = None) -> WidgetHandle:
        """An output area: callbacks registered with `{output = out}` print into it,
        `out:capture(fn)` runs fn with its output going there, `out:clear()` empties it."""
        return self._make("output", options)

    def hbox(self, children: Any = None) -> WidgetHandle:
        """Widgets side by side: `Widget.hbox{w1, w2}` (or `{children = {w1, w2}}`)."""
        return self._make("hbox", _box_options(children))

    def vbox(self, children: Any = None) -> WidgetHandle:
        """Widgets one above the other: `Widget.vbox{w1, w2}` (or `{children = {...}}`)."""
        return self._make("vbox", _box_options(children))

    def _make(self, kind_name: str, options: Any) -> WidgetHandle:
        fn = f"Widget.{kind_name}"
        host = self._ctx.widgets
        if host is None or not host.connected:
            raise ApiError(
                f"{fn}: widgets need a Jupyter front end (the llmspell kernel); `llmspell run` "
                "and `exec` have none: print values, or show them with display() and Display.*"
            )
        host.prepare()
        kind = KINDS[kind_name]
        opts = require_table(fn, "options", options)
        check_options(fn, opts, set(kind.options))
        if "children" in opts:
            opts["children"] = _children(fn, opts["children"])
        if "options" in opts:
            if not isinstance(opts["options"], list) or not opts["options"]:
                raise ValidationError(f"{fn}: options must be a non-empty list")
            opts["options"] = tuple(opts["options"])
        from traitlets import TraitError

        try:
            widget = kind.make(opts)
        except TraitError as exc:
            raise ValidationError(f"{fn}: {_trait_reason(exc)}") from None
        return WidgetHandle(kind_name, widget, host, self._handles)

    @property
    def _handles(self) -> dict[int, Any]:
        # the handle of each live widget, so a box's children read back as the script's widgets
        handles: dict[int, Any] | None = self.__dict__.get("_widget_handles")
        if handles is None:
            handles = self.__dict__["_widget_handles"] = {}
        return handles


def _box_options(value: Any) -> Any:
    if isinstance(value, list):
        return {"children": value}
    return value


def _children(fn: str, value: Any) -> tuple[Any, ...]:
    if value == {}:
        value = []
    if not isinstance(value, list):
        raise ValidationError(f"{fn}: children must be a list of widgets, got {type_name(value)}")
    for i, item in enumerate(value, start=1):
        if not isinstance(item, WidgetHandle):
            raise ValidationError(
                f"{fn}: children[{i}] must be a widget, got {type_name(item)} {shown(item)}"
            )
    return tuple(v._widget for v in value)


def _trait_reason(exc: Exception) -> str:
    """traitlets' message without the Python class names it starts with."""
    return " ".join(str(exc).split())


def _render_widget(value: Any) -> dict[str, Any] | None:
    return value._bundle() if isinstance(value, WidgetHandle) else None


register_renderer(_render_widget)
