"""Host work a script asks for — ingesting, embedding, assembling context, CSV statistics, JSON
conversion, first-use loading — runs under the script's time limit and interrupt, and its
memory is bounded: long work checks the limits between steps, and values too big for the
memory limit are refused up front, naming it."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, error_of

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.config import EmbeddingsConfig
from llmspell.runtime.embeddings import Embedder, build_provider

pytestmark = pytest.mark.timeout(120)

DEADLINE_S = 0.5
# Each input below keeps the host busy for 10 s of CPU or more without the limits; stopped, it
# ends soon after the stop. Stops are measured in this process's CPU seconds, which other work
# on a loaded machine does not stretch as it stretches the wall clock, and the bound is wide.
STOPPED_WITHIN_S = 5.0
WORDS = "The quick brown fox jumps over the lazy dog. "  # 45 characters
MEGABYTES = 8
BIG_TEXT = f'string.rep("{WORDS}", {MEGABYTES * 1024 * 1024 // len(WORDS)})'


@contextmanager
def after(seconds: float, action: Any) -> Iterator[None]:
    timer = threading.Timer(seconds, action)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def stop_time(rt: ScriptRuntime, code: str, ename: str) -> float:
    """CPU seconds this process spent running `code` until it failed with `ename` (at most its
    wall time while one thread works, as here)."""
    started = time.process_time()
    err = error_of(rt, code)
    elapsed = time.process_time() - started
    assert err.ename == ename, err
    return elapsed


# How long a first-use load blocks in the tests below unless the test releases it: a stop that
# waited for the load would take this long, one that did not is far quicker on any machine.
BLOCKED_S = 60.0


def stopped_while_blocked(rt: ScriptRuntime, code: str) -> bool:
    """Whether `code` was interrupted well before a load blocked for BLOCKED_S could end."""
    started = time.monotonic()
    assert error_of(rt, code).ename == "KeyboardInterrupt"
    return time.monotonic() - started < BLOCKED_S / 2


def timed(make_runtime: MakeRuntime, engine: str = "lua") -> ScriptRuntime:
    rt = make_runtime(engine, **{f"engines__{engine}__timeout_s": DEADLINE_S})
    warm_up(rt)
    return rt


def warm_up(rt: ScriptRuntime) -> None:
    """Storage open, the embedding model loaded and one document in (outside the script's
    limits): what follows is the work under test."""
    from llmspell.runtime.rag import Document, RagManager

    rt.infrastructure.get(RagManager).ingest([Document("warm up")])


# --- the time limit and the interrupt reach host work --------------------------------------


def test_the_time_limit_stops_ingesting_megabytes(make_runtime: MakeRuntime) -> None:
    rt = timed(make_runtime)
    code = f"return RAG.ingest({{content = {BIG_TEXT}, id = 'big'}})"
    assert stop_time(rt, code, "TimeoutError") < DEADLINE_S + STOPPED_WITHIN_S
    assert rt.execute("return RAG.get_stats().documents").value == 1, "only the warm-up document"
    assert rt.execute("return RAG.ingest({content = 'after'}).chunks_created").value == 1


def test_the_time_limit_stops_remembering_megabytes(make_runtime: MakeRuntime) -> None:
    rt = timed(make_runtime)
    code = f'Memory.episodic.add("s", "user", {BIG_TEXT})'
    assert stop_time(rt, code, "TimeoutError") < DEADLINE_S + STOPPED_WITHIN_S
    assert rt.execute('return #Memory.episodic.session("s")').value == 0


def test_the_time_limit_stops_assembling_context_for_a_huge_query(
    make_runtime: MakeRuntime,
) -> None:
    rt = timed(make_runtime)
    code = f"return Context.assemble({BIG_TEXT})"
    assert stop_time(rt, code, "TimeoutError") < DEADLINE_S + STOPPED_WITHIN_S


def test_the_python_engine_reports_stopped_host_work_as_its_timeout(
    make_runtime: MakeRuntime,
) -> None:
    rt = timed(make_runtime, "python")
    code = f"RAG.ingest({{'content': {WORDS!r} * {MEGABYTES * 1024 * 1024 // len(WORDS)}}})"
    assert stop_time(rt, code, "TimeoutError") < DEADLINE_S + STOPPED_WITHIN_S
    assert rt.execute("1 + 1").value == 2


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("t = {} for i = 1, 8000000 do t[i] = i end", "JSON.stringify(t)"),
        ('s = "[" .. string.rep("1,", 12000000) .. "1]"', "JSON.parse(s)"),
        (
            's = "a,b,c\\n" .. string.rep("17,x5,3.5\\n", 3000000)',
            'Tool.execute("csv-analyzer", {operation = "stats", input = s})',
        ),
    ],
    ids=["JSON.stringify", "JSON.parse", "csv stats"],
)
def test_an_interrupt_stops_converting_and_parsing_big_values(
    lua: ScriptRuntime, setup: str, code: str
) -> None:
    lua.execute(setup)
    with after(0.3, lua.interrupt):
        assert stop_time(lua, code, "KeyboardInterrupt") < 0.3 + STOPPED_WITHIN_S
    assert lua.execute("return 1 + 1").value == 2


def test_a_query_of_thousands_of_distinct_words_is_answered(lua: ScriptRuntime) -> None:
    # Every word of the text was a LIKE in one SQL statement: thousands took minutes, then
    # SQLite refused the statement (expressions 1,000 deep).
    lua.execute('Memory.semantic.add_entity{name = "Ada", type = "person"}')
    words = 'local w = {"ada"} for i = 1, 3000 do w[#w + 1] = "word" .. i end'
    text = lua.execute(f'{words} return table.concat(w, " ")').value
    found = lua.execute(f"return Memory.semantic.query([[{text}]])").value
    assert [entity["name"] for entity in found] == ["Ada"]


# --- waiting for slow first-use work ----------------------------------------------------------


def test_an_interrupt_stops_waiting_for_the_embedding_model_to_load(
    lua: ScriptRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmspell.runtime.embeddings import local

    loading = local._load
    loaded = threading.Event()

    def slow_load() -> Any:
        loaded.wait(BLOCKED_S)  # a cold disk, a busy machine: loads once the test says so
        return loading()

    monkeypatch.setattr(local, "_loaded", None)
    monkeypatch.setattr(local, "_load", slow_load)
    with after(0.3, lua.interrupt):
        code = 'Memory.episodic.add("s", "user", "hi")'
        assert stopped_while_blocked(lua, code), "the script waited for the model to load"
    loaded.set()
    # the load went on in the background: the next call finds the model
    assert isinstance(lua.execute('return Memory.episodic.add("s", "user", "hi")').value, str)


def test_an_interrupt_stops_waiting_for_storage_to_open(
    lua: ScriptRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llmspell.storage

    opening = llmspell.storage.open_storage
    opened = threading.Event()

    def slow_open(*args: Any) -> Any:
        opened.wait(BLOCKED_S)
        return opening(*args)

    monkeypatch.setattr(llmspell.storage, "open_storage", slow_open)
    code = 'Workflow.sequential{name = "w", steps = {{name = "a", fn = function() end}}}:execute()'
    with after(0.3, lua.interrupt):
        assert stopped_while_blocked(lua, code), "the script waited for storage to open"
    opened.set()
    lua.execute(code)  # storage opened in the background meanwhile


# --- memory ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            'Memory.episodic.add("s", "user", string.rep("x", 1500000))',
            "Memory.episodic.add: content is 1.4 MB",
        ),
        ("RAG.ingest(string.rep('x ', 750000))", "RAG.ingest: the text to ingest is 1.4 MB"),
        ("JSON.parse('\"' .. string.rep('x', 1500000) .. '\"')", "JSON.parse: the JSON text is"),
        (
            "return Tool.execute('csv-analyzer', {operation = 'head', input = "
            "'a\\n' .. string.rep('x\\n', 750000)})",
            "the CSV input is 1.4 MB",
        ),
    ],
    ids=["episodic", "rag", "json", "csv"],
)
def test_a_value_too_big_for_the_memory_limit_is_refused_naming_the_limit(
    make_runtime: MakeRuntime, code: str, message: str
) -> None:
    rt = make_runtime(engines__lua__max_memory_mb=16)
    limit = (
        "the limit is 1.0 MB per value handed to host work (1/16 of engines.lua.max_memory_mb = 16)"
    )
    try:
        result = rt.execute(code).value
    except Exception as exc:
        text = str(exc)
    else:
        text = str(result["error"])
    assert message in text and limit in text


def test_embedding_a_long_text_holds_one_slice_of_token_vectors_at_a_time() -> None:
    embedder = Embedder(build_provider(EmbeddingsConfig()))
    embedder.embed(["load the model first"])
    text = WORDS * (2 * 1024 * 1024 // len(WORDS))  # 2 MB, ~500,000 tokens
    tracemalloc.start()
    try:
        vector = embedder.embed_one(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # all its token vectors at once would be 500,000 x 256 x 4 bytes = 500 MB
    assert peak < 100 * 1024 * 1024
    short = embedder.embed_one(WORDS * 20)
    assert float(vector @ short) > 0.99, "the same words mean the same, however long"
