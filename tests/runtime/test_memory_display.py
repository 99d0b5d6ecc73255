"""Memory results in notebooks: a neighbourhood shows as an SVG drawing plus tables, search
hits as an HTML table."""

from __future__ import annotations

from runtime_helpers import MakeRuntime

from llmspell.runtime.display.graph import is_neighbourhood, neighbourhood_html

SETUP = """
local a = Memory.semantic.add_entity{name = "Ada <A>", type = "person"}
local b = Memory.semantic.add_entity{name = "Babbage", type = "person"}
local c = Memory.semantic.add_entity{name = "Engine", type = "machine"}
Memory.semantic.add_relationship{from = a, to = b, type = "knows"}
Memory.semantic.add_relationship{from = b, to = c, type = "built"}
start = a
"""


def test_a_neighbourhood_value_displays_as_svg_and_tables(make_runtime: MakeRuntime) -> None:
    rt = make_runtime("lua")
    rt.execute(SETUP)
    result = rt.execute("return Memory.semantic.neighbors(start, {depth = 2})")
    page = result.bundle["text/html"]
    assert page.startswith("<div><svg") and "</svg>" in page
    assert page.count("<circle") == 3, "start, Babbage and Engine"
    assert ">knows</text>" in page and ">built</text>" in page
    assert "<td>Babbage</td><td>person</td><td>1</td>" in page
    assert "<td>Babbage</td><td>built</td><td>Engine</td>" in page
    assert "application/json" not in result.bundle, "Lab ranks JSON above the picture"


def test_an_empty_neighbourhood_still_displays(make_runtime: MakeRuntime) -> None:
    rt = make_runtime("lua")
    rt.execute(SETUP)
    result = rt.execute("return Memory.semantic.neighbors(start, {as_of = 0})")
    assert "no nodes" in result.bundle["text/html"]


def test_other_tables_are_not_mistaken_for_a_neighbourhood() -> None:
    assert not is_neighbourhood({"nodes": [1, 2], "edges": []})
    assert not is_neighbourhood({"nodes": [], "edges": [], "extra": 1})
    assert is_neighbourhood({"nodes": {}, "edges": {}})
    assert "<svg" in neighbourhood_html({"nodes": [], "edges": []})


def test_episodic_hits_display_as_an_html_table(make_runtime: MakeRuntime) -> None:
    rt = make_runtime("lua")
    rt.execute('Memory.episodic.add("s", "user", "I like tea")')
    rt.execute('Memory.episodic.add("s", "user", "I like coffee")')
    result = rt.execute('return Memory.episodic.search("s", "hot drinks", 2)')
    page = result.bundle["text/html"]
    assert page.startswith("<table>") and "<th>score</th>" in page and "I like tea" in page
