"""Widgets over a fake comm: what the front end is sent when a script makes and changes a
widget, what a front end's update or click runs (under the script's limits, output where it
belongs), and the clear error where no front end exists."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm
from runtime_helpers import MakeRuntime

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.results import ExecutionResult, ScriptError

VIEW = "application/vnd.jupyter.widget-view+json"


class FakeComm(BaseComm):
    """A comm whose messages to the front end are recorded instead of sent."""

    sent: list[tuple[str, Any]] = []

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        FakeComm.sent.append((msg_type, {"comm_id": self.comm_id, "data": data}))


@pytest.fixture(autouse=True)
def fake_comms(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Any]]]:
    monkeypatch.setattr(comm, "create_comm", FakeComm)
    FakeComm.sent = []
    yield FakeComm.sent


def connected(rt: ScriptRuntime) -> ScriptRuntime:
    rt.widgets.connect()
    return rt


def opened(sent: list[tuple[str, Any]], model: str) -> dict[str, Any]:
    """The last comm_open of a model (`IntSliderModel`): its comm id and state."""
    for msg_type, msg in reversed(sent):
        if msg_type == "comm_open" and msg["data"]["state"]["_model_name"] == model:
            return {"comm_id": msg["comm_id"], **msg["data"]["state"]}
    raise AssertionError(f"no {model} opened; sent: {[m for m, _ in sent]}")


def updates(sent: list[tuple[str, Any]], comm_id: str) -> list[dict[str, Any]]:
    return [
        msg["data"]["state"]
        for msg_type, msg in sent
        if msg_type == "comm_msg"
        and msg["comm_id"] == comm_id
        and msg["data"]["method"] == "update"
    ]


def from_frontend(comm_id: str, data: dict[str, Any]) -> None:
    """A comm_msg from the front end, as ipykernel's comm manager delivers it between cells."""
    target = comm.get_comm_manager().get_comm(comm_id)
    assert target is not None
    target.handle_msg({"content": {"comm_id": comm_id, "data": data}, "buffers": []})


def run(rt: ScriptRuntime, lua: str, python: str) -> ExecutionResult:
    return rt.execute(lua if rt.engine_name == "lua" else python)


def test_a_slider_opens_a_comm_with_its_state_and_shows_as_a_widget_view(
    rt: ScriptRuntime, fake_comms: list[tuple[str, Any]]
) -> None:
    result = run(
        connected(rt),
        's = Widget.slider{min = 0, max = 10, value = 3, description = "n"}\ns',
        's = Widget.slider({"min": 0, "max": 10, "value": 3, "description": "n"})\ns',
    )
    state = opened(fake_comms, "IntSliderModel")
    assert (state["min"], state["max"], state["value"], state["description"]) == (0, 10, 3, "n")
    assert result.bundle[VIEW]["model_id"] == state["comm_id"]
    assert result.bundle["text/plain"] == "Widget.slider(value=3, min=0, max=10, description='n')"


def test_display_of_a_widget_sends_its_view(
    lua: ScriptRuntime, fake_comms: list[tuple[str, Any]]
) -> None:
    result = connected(lua).execute('display(Widget.button{description = "Go"})')
    state = opened(fake_comms, "ButtonModel")
    assert [d[VIEW]["model_id"] for d in result.displays] == [state["comm_id"]]


def test_an_update_from_the_frontend_changes_value_and_runs_on_change(
    rt: ScriptRuntime, fake_comms: list[tuple[str, Any]]
) -> None:
    run(
        connected(rt),
        "s = Widget.slider{max = 10, value = 3}\nseen = {}\n"
        "s:on_change(function(v, old) seen[#seen + 1] = old .. '->' .. v end)",
        "s = Widget.slider({'max': 10, 'value': 3})\nseen = []\n"
        "s.on_change(lambda v, old, w: seen.append(f'{old}->{v}'))",
    )
    from_frontend(
        opened(fake_comms, "IntSliderModel")["comm_id"],
        {"method": "update", "state": {"value": 7}, "buffer_paths": []},
    )
    assert run(rt, "return s.value", "s.value").value == 7
    assert run(rt, "return seen", "seen").value == ["3->7"]


def test_writing_value_from_the_script_updates_the_frontend(
    rt: ScriptRuntime, fake_comms: list[tuple[str, Any]]
) -> None:
    run(
        connected(rt),
        "p = Widget.progress{max = 4}\nfor i = 1, 4 do p.value = i end",
        "p = Widget.progress({'max': 4})\nfor i in range(1, 5):\n    p.value = i",
    )
    comm_id = opened(fake_comms, "IntProgressModel")["comm_id"]
    assert [u["value"] for u in updates(fake_comms, comm_id) if "value" in u] == [1, 2, 3, 4]


def test_a_button_click_from_the_frontend_runs_on_click_and_prints_to_the_sink(
    lua: ScriptRuntime, fake_comms: list[tuple[str, Any]]
) -> None:
    connected(lua).execute(
        'b = Widget.button{description = "Go"}\nclicks = 0\n'
        "b:on_click(function(w) clicks = clicks + 1; print('clicked', w.description) end)"
    )
    printed: list[str] = []
    sink = _Collecting(printed)
    lua.set_output(sink)
    from_frontend(
        opened(fake_comms, "ButtonModel")["comm_id"],
        {"method": "custom", "content": {"event": "click"}},
    )
    assert printed == ["clicked\tGo\n"]
    assert lua.execute("return clicks").value == 1


def test_a_callback_with_an_output_widget_prints_into_it(
    lua: ScriptRuntime, fake_comms: list[tuple[str, Any]]
) -> None:
    connected(lua).execute(
        "out = Widget.output{}\nb = Widget.button{}\n"
        "b:on_click(function() print('into the output') end, {output = out})"
    )
    out_id = opened(fake_comms, "OutputModel")["comm_id"]
    from_frontend(
        opened(fake_comms, "ButtonModel")["comm_id"],
        {"method": "custom", "content": {"event": "click"}},
    )
    assert list(updates(fake_comms, out_id)[-1]["outputs"]) == [
        {"output_type": "stream", "name": "stdout", "text": "into the output\n"}
    ]
    lua.execute("out:clear()")
    assert list(updates(fake_comms, out_id)[-1]["outputs"]) == []


def test_a_callback_that_loops_forever_is_stopped_by_the_time_limit(
    make_runtime: MakeRuntime, fake_comms: list[tuple[str, Any]], engine: str
) -> None:
    rt = connected(make_runtime(engine, **{f"engines__{engine}__timeout_s": 0.5}))
    run(
        rt,
        "b = Widget.button{}\nb:on_click(function() while true do end end)",
        "def forever(w):\n    while True:\n        pass\nb = Widget.button()\nb.on_click(forever)",
    )
    printed: list[str] = []
    rt.set_output(_Collecting(printed))
    started = time.monotonic()
    from_frontend(
        opened(fake_comms, "ButtonModel")["comm_id"],
        {"method": "custom", "content": {"event": "click"}},
    )
    # it never ends by itself: returning at all shows the limit stopped it
    assert time.monotonic() - started < 30
    assert "TimeoutError" in "".join(printed)
    assert rt.execute("1 + 1" if engine == "python" else "return 1 + 1").value == 2


def test_a_failing_callback_fired_by_the_script_fails_the_script(lua: ScriptRuntime) -> None:
    connected(lua).execute("s = Widget.slider{}\ns:on_change(function() error('bad callback') end)")
    with pytest.raises(ScriptError) as err:
        lua.execute("s.value = 4")
    assert "bad callback" in err.value.evalue


def test_a_failing_click_callback_started_by_the_script_fails_the_script(
    lua: ScriptRuntime,
) -> None:
    connected(lua).execute("b = Widget.button{}\nb:on_click(function() error('bad click') end)")
    with pytest.raises(ScriptError) as err:
        lua.execute("b:click()")
    assert "bad click" in err.value.evalue


def test_boxes_hold_widgets_and_give_them_back(lua: ScriptRuntime) -> None:
    result = connected(lua).execute(
        "a = Widget.checkbox{description = 'a'}\nb = Widget.text{value = 'x'}\n"
        "box = Widget.hbox{a, b}\nreturn box.children[2].value, #Widget.vbox{}.children"
    )
    assert result.value == ["x", 0]


def test_dropdown_value_must_be_one_of_its_options(lua: ScriptRuntime) -> None:
    connected(lua).execute("d = Widget.dropdown{options = {'red', 'green'}, value = 'green'}")
    assert lua.execute("return d.value").value == "green"
    with pytest.raises(ScriptError) as err:
        lua.execute("d.value = 'blue'")
    assert err.value.evalue.startswith("Widget.dropdown: value cannot be string")


def test_unknown_options_and_fields_are_named(lua: ScriptRuntime) -> None:
    connected(lua)
    with pytest.raises(ScriptError) as err:
        lua.execute("Widget.slider{colour = 'red'}")
    assert "Widget.slider: unknown option 'colour'" in err.value.evalue
    with pytest.raises(ScriptError) as err:
        lua.execute("s = Widget.slider{}\nreturn s.vlaue")
    assert "Widget.slider has no field" in err.value.evalue and "value" in err.value.evalue
    with pytest.raises(ScriptError) as err:
        lua.execute("Widget.hbox{Widget.label{}, 2}")
    assert "Widget.hbox: children[2] must be a widget, got integer 2" in err.value.evalue
    with pytest.raises(ScriptError) as err:
        lua.execute("Widget.slider{}:on_click(print)")
    assert "only a button is clicked" in err.value.evalue


def test_completion_offers_a_widgets_fields_and_methods(lua: ScriptRuntime) -> None:
    connected(lua).execute("s = Widget.slider{}")
    assert lua.complete("s.va").matches == ["s.value"]
    assert "s.on_change" in lua.complete("s.").matches
    assert lua.complete("s:va").matches == [], "a field is not a method"


def test_outside_a_kernel_widgets_are_a_clear_error(rt: ScriptRuntime) -> None:
    with pytest.raises(ScriptError) as err:
        run(rt, "Widget.slider{max = 3}", "Widget.slider({'max': 3})")
    assert err.value.evalue.startswith(
        "Widget.slider: widgets need a Jupyter front end (the llmspell kernel)"
    )


class _Collecting:
    """An OutputSink that keeps what is printed (stdout and stderr) in one list."""

    def __init__(self, printed: list[str]) -> None:
        self.printed = printed

    def stdout(self, text: str) -> None:
        self.printed.append(text)

    def stderr(self, text: str) -> None:
        self.printed.append(text)

    def display(self, bundle: Any, metadata: Any, display_id: Any = None, update: bool = False):  # type: ignore[no-untyped-def]
        self.printed.append(bundle.get("text/plain", ""))

    def clear(self, wait: bool) -> None:
        return None

    def page(self, text: str) -> None:
        self.printed.append(text)

    def input(self, prompt: str, password: bool) -> str:
        raise EOFError
