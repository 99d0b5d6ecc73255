"""The RAG global through both engines: every documented option changes the result."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, as_list, call, call_error
from time_machine import TimeMachineFixture

from llmspell.runtime import ScriptRuntime

DOCS = [
    {"id": "cats", "content": "Cats are small domesticated carnivorous mammals. They sleep 12 "
     "to 16 hours a day.", "metadata": {"topic": "animals"}},
    {"id": "pg", "content": "PostgreSQL is an open source relational database. It supports row "
     "level security and extensions such as pgvector.", "metadata": {"topic": "databases"}},
    {"id": "lua", "content": "Lua is a lightweight embeddable scripting language designed in "
     "Brazil.", "metadata": {"topic": "languages"}},
    {"id": "sqlite", "content": "SQLite is an embedded database engine: the database is one "
     "file.", "metadata": {"topic": "databases"}},
]  # fmt: skip
# A keyword-heavy corpus: the code in the question names a document about something else.
TICKETS = [
    {"id": "coffee", "content": "Ticket KQ-88: the office coffee machine on the third floor is "
     "broken again."},
    {"id": "disk", "content": "The disk filled up overnight and the database stopped accepting "
     "writes."},
    {"id": "inv", "content": "Invoices are generated on the first day of every month for each "
     "customer."},
    {"id": "space", "content": "When storage runs out of space, services fail to write their "
     "logs."},
    {"id": "pdf", "content": "Customers can download every invoice as a PDF from the billing "
     "page."},
    {"id": "fin", "content": "Billing questions go to the finance team, who answer within two "
     "days."},
]  # fmt: skip


def ids(result: dict[str, Any]) -> list[str]:
    return [hit["document_id"] for hit in as_list(result["results"])]


def ingest(rt: ScriptRuntime, docs: Any, options: dict[str, Any] | None = None) -> Any:
    return call(rt, "RAG.ingest", docs, options) if options else call(rt, "RAG.ingest", docs)


def test_ingest_reports_and_search_finds_the_relevant_document(rt: ScriptRuntime) -> None:
    report = ingest(rt, DOCS)
    assert report["documents_processed"] == 4
    assert report["chunks_created"] == report["vectors_created"] == 4
    assert report["total_tokens"] > 40
    found = call(rt, "RAG.search", "How many hours do cats sleep?", {"k": 2})
    assert found["query"] == "How many hours do cats sleep?"
    assert ids(found)[0] == "cats" and found["total"] == 2
    hit = as_list(found["results"])[0]
    assert set(hit) == {"id", "document_id", "content", "score", "metadata"}
    assert hit["metadata"]["topic"] == "animals" and hit["metadata"]["chunk_index"] == 0
    assert 0.0 <= hit["score"] <= 1.0


def test_k_and_its_aliases_limit_the_results(rt: ScriptRuntime) -> None:
    ingest(rt, DOCS)
    assert len(ids(call(rt, "RAG.search", "database"))) == 4  # default k = 10
    for name in ("k", "top_k", "limit"):
        assert len(ids(call(rt, "RAG.search", "database", {name: 2}))) == 2
    error = call_error(rt, "RAG.search", "database", {"k": 2, "limit": 3})
    assert "RAG.search: k, top_k and limit are the same option" in error.evalue
    assert "k must be <= 1000" in call_error(rt, "RAG.search", "x", {"k": 5000}).evalue


def test_threshold_drops_results_below_it(rt: ScriptRuntime) -> None:
    ingest(rt, DOCS)
    every = as_list(call(rt, "RAG.search", "database", {"k": 4})["results"])
    cut = every[1]["score"]
    kept = as_list(call(rt, "RAG.search", "database", {"k": 4, "threshold": cut})["results"])
    assert 0 < len(kept) < len(every)
    assert all(hit["score"] >= cut for hit in kept)
    error = call_error(rt, "RAG.search", "database", {"threshold": 2})
    assert "threshold must be a number from 0 to 1" in error.evalue


def test_filters_keep_only_exact_metadata_matches(rt: ScriptRuntime) -> None:
    ingest(rt, DOCS)
    found = call(rt, "RAG.search", "database security", {"filters": {"topic": "animals"}})
    assert ids(found) == ["cats"]
    both = call(rt, "RAG.search", "database", {"filters": {"topic": "databases"}})
    assert sorted(ids(both)) == ["pg", "sqlite"]
    none = call(rt, "RAG.search", "database", {"filters": {"topic": "Databases"}})
    assert ids(none) == []


def test_scopes_isolate_collections_and_no_scope_sees_only_the_global_one(
    rt: ScriptRuntime,
) -> None:
    ingest(rt, DOCS)
    ingest(rt, {"id": "secret", "content": "The launch code is aurora-7."},
           {"scope": "session", "scope_id": "s-1"})  # fmt: skip
    ingest(rt, {"id": "other", "content": "The launch code is borealis-9."},
           {"scope": "project", "scope_id": "s-1"})  # fmt: skip
    assert "secret" not in ids(call(rt, "RAG.search", "launch code", {"k": 10}))
    session = call(rt, "RAG.search", "launch code", {"scope": "session", "scope_id": "s-1"})
    assert ids(session) == ["secret"]
    project = call(rt, "RAG.search", "launch code", {"scope": "project", "scope_id": "s-1"})
    assert ids(project) == ["other"]
    assert ids(call(rt, "RAG.search", "launch", {"scope": "session", "scope_id": "s-2"})) == []
    error = call_error(rt, "RAG.search", "x", {"scope": "session"})
    assert "scope 'session' needs a scope_id" in error.evalue
    assert "no ':'" in call_error(rt, "RAG.search", "x", {"scope": "a:b", "scope_id": "c"}).evalue
    assert call(rt, "RAG.cleanup_scope", "session", "s-1") == 1
    assert ids(call(rt, "RAG.search", "launch code", {"scope": "session", "scope_id": "s-1"})) == []
    assert ids(project) == ["other"], "other scopes keep their collections"


def test_hybrid_false_ranks_by_meaning_alone_and_differs_on_a_keyword_heavy_query(
    rt: ScriptRuntime,
) -> None:
    ingest(rt, TICKETS)
    question = "monthly invoices for ticket KQ-88"
    hybrid = call(rt, "RAG.search", question, {"k": 3})
    vector = call(rt, "RAG.search", question, {"k": 3, "hybrid": False})
    assert ids(hybrid)[0] == "coffee", "the exact code wins with keywords"
    assert ids(vector)[0] == "inv", "meaning alone prefers the invoices"
    error = call_error(rt, "RAG.search", question, {"hybrid": "no"})
    assert "hybrid must be true or false" in error.evalue


def test_rerank_reorders_the_best_candidates_and_keeps_k_and_threshold(
    rt: ScriptRuntime,
) -> None:
    ingest(rt, TICKETS)
    question = "monthly invoices for ticket KQ-88"
    plain = call(rt, "RAG.search", question, {"k": 3})
    reranked = call(rt, "RAG.search", question, {"k": 3, "rerank": True})
    assert len(as_list(reranked["results"])) == 3
    assert set(ids(reranked)) <= {d["id"] for d in TICKETS}
    scores = [r["score"] for r in as_list(reranked["results"])]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert scores != [r["score"] for r in as_list(plain["results"])]  # the stage ran
    high = call(rt, "RAG.search", question, {"rerank": True, "threshold": 0.99})
    assert all(r["score"] >= 0.99 for r in as_list(high["results"]))
    error = call_error(rt, "RAG.search", question, {"rerank": "yes"})
    assert "rerank must be true or false" in error.evalue


def test_ttl_s_makes_chunks_expire(rt: ScriptRuntime, time_machine: TimeMachineFixture) -> None:
    # the clock stands still until the test moves it: a slow ingest (a model load on a busy
    # machine) cannot use up the lifetime before the first search
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    time_machine.move_to(now, tick=False)
    ingest(rt, {"id": "brief", "content": "A short-lived note about tulips."}, {"ttl_s": 60})
    ingest(rt, {"id": "lasting", "content": "A lasting note about roses."})
    assert "brief" in ids(call(rt, "RAG.search", "tulips"))
    listed = {d["document_id"]: d for d in as_list(call(rt, "RAG.list_documents"))}
    assert listed["brief"].get("expires_at") == "2026-03-01T12:01:00.000000Z"
    assert listed["lasting"].get("expires_at") is None
    time_machine.shift(59)
    assert "brief" in ids(call(rt, "RAG.search", "tulips"))
    time_machine.shift(2)
    assert ids(call(rt, "RAG.search", "tulips")) == ["lasting"]
    assert "ttl_s must be more than 0" in call_error(rt, "RAG.ingest", "x", {"ttl_s": 0}).evalue


def test_a_session_collection_expires_with_its_lifetime(
    rt: ScriptRuntime, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), tick=False)
    ingest(rt, {"id": "before", "content": "Notes on apricots."},
           {"scope": "session", "scope_id": "s"})  # fmt: skip
    made = call(rt, "RAG.create_session_collection", "s", 60)
    assert made["session_id"] == "s" and made["scope"] == "session" and made["ttl_s"] == 60
    ingest(rt, {"id": "after", "content": "Notes on plums."},
           {"scope": "session", "scope_id": "s"})  # fmt: skip
    listed = as_list(call(rt, "RAG.list_documents", {"scope": "session", "scope_id": "s"}))
    assert {d["document_id"] for d in listed} == {"before", "after"}
    assert all(d.get("expires_at") == "2026-03-01T12:01:00.000000Z" for d in listed)
    time_machine.shift(61)
    assert ids(call(rt, "RAG.search", "notes", {"scope": "session", "scope_id": "s"})) == []
    ingest(rt, {"id": "later", "content": "Notes on figs."}, {"scope": "session", "scope_id": "s"})
    later = as_list(call(rt, "RAG.list_documents", {"scope": "session", "scope_id": "s"}))
    assert [(d["document_id"], d.get("expires_at")) for d in later] == [("later", None)]


def test_deleting_the_session_deletes_its_rag_collection(rt: ScriptRuntime) -> None:
    session = call(rt, "Session.create", {"name": "with documents"})
    sid = session if isinstance(session, str) else session["id"]
    ingest(rt, {"id": "notes", "content": "Meeting notes about the Q3 roadmap."},
           {"scope": "session", "scope_id": sid})  # fmt: skip
    call(rt, "RAG.create_session_collection", sid, 3600)
    assert call(rt, "RAG.get_stats", "session", sid)["chunks"] == 1
    call(rt, "Session.delete", sid)
    assert call(rt, "RAG.get_stats", "session", sid)["chunks"] == 0
    assert ids(call(rt, "RAG.search", "roadmap", {"scope": "session", "scope_id": sid})) == []
    assert as_list(call(rt, "State.list_keys", f"session:{sid}")) == [], "its lifetime too"


def test_reingesting_a_document_replaces_its_chunks(rt: ScriptRuntime) -> None:
    ingest(rt, {"id": "doc", "content": "First version about apples. " * 40},
           {"chunk_size": 32, "chunk_overlap": 0})  # fmt: skip
    first = call(rt, "RAG.get_stats")["chunks"]
    assert first > 3
    ingest(rt, {"id": "doc", "content": "Second version about pears."})
    stats = call(rt, "RAG.get_stats")
    assert (stats["documents"], stats["chunks"]) == (1, 1)
    assert [h["content"] for h in as_list(call(rt, "RAG.search", "apples")["results"])] == [
        "Second version about pears."
    ]
    ingest(rt, "Same text twice.")
    ingest(rt, "Same text twice.")
    assert call(rt, "RAG.get_stats")["documents"] == 2, "an id from the content: no duplicate"


def test_chunk_size_and_overlap_shape_the_chunks_and_offsets_trace_them(
    rt: ScriptRuntime,
) -> None:
    text = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(1, 201))
    small = ingest(rt, {"id": "a", "content": text}, {"chunk_size": 32, "chunk_overlap": 0})
    large = ingest(rt, {"id": "b", "content": text}, {"chunk_size": 128, "chunk_overlap": 0})
    overlapping = ingest(rt, {"id": "c", "content": text}, {"chunk_size": 32, "chunk_overlap": 16})
    assert small["chunks_created"] > large["chunks_created"] * 3
    assert overlapping["chunks_created"] > small["chunks_created"] * 1.5
    for hit in as_list(call(rt, "RAG.search", "topic 3", {"k": 20})["results"]):
        meta = hit["metadata"]
        assert text[meta["chunk_start"] : meta["chunk_end"]] == hit["content"]
        assert meta["chunk_tokens"] <= (128 if hit["document_id"] == "b" else 32)
    error = call_error(rt, "RAG.ingest", "x", {"chunk_size": 32, "chunk_overlap": 32})
    assert "chunk_overlap must be at least 0 and less than chunk_size (32)" in error.evalue


def test_ingest_refuses_bad_documents_and_options_and_stores_nothing(rt: ScriptRuntime) -> None:
    cases = [
        ([{"id": "a", "content": "ok"}, {"id": "b"}], None, "document 2 needs content"),
        ({"content": "x", "text": "y"}, None, "both content and text"),
        ({"content": "x", "colour": "red"}, None, "unknown option 'colour'"),
        ({"content": "x", "metadata": {"chunk_index": 1}}, None, "'chunk_index' is reserved"),
        ([{"id": "d", "content": "x"}, {"id": "d", "content": "y"}], None, "given twice"),
        ({"content": "   "}, None, "content must be a non-empty string"),
        ({"content": "x"}, {"tenant_id": "someone-else"}, "is not this runtime's tenant"),
        ({"content": "x"}, {"scope_id": "s"}, "scope_id needs a scope"),
        ({"content": "x"}, {"chunk_size": 8}, "chunk_size must be 16-65536"),
    ]
    for docs, options, message in cases:
        args = (docs, options) if options else (docs,)
        error = call_error(rt, "RAG.ingest", *args)
        assert error.evalue.startswith("RAG.ingest: ") and message in error.evalue, error.evalue
    assert call(rt, "RAG.get_stats")["chunks"] == 0
    assert call(rt, "RAG.ingest", {"text": "Text works as content."}, {"tenant_id": "default"})


def test_delete_list_documents_and_stats(rt: ScriptRuntime) -> None:
    ingest(rt, DOCS)
    ingest(rt, {"id": "p", "content": "Project notes."}, {"scope": "project", "scope_id": "x"})
    ingest(rt, {"id": "q", "content": "Other notes."}, {"scope": "project", "scope_id": "y"})
    listed = as_list(call(rt, "RAG.list_documents"))
    assert sorted(d["document_id"] for d in listed) == ["cats", "lua", "pg", "sqlite"]
    assert listed[0]["chunks"] == 1 and "topic" in listed[0]["metadata"]
    assert "chunk_index" not in listed[0]["metadata"]
    assert len(as_list(call(rt, "RAG.list_documents", {"limit": 2}))) == 2
    every_project = as_list(call(rt, "RAG.list_documents", {"scope": "project"}))
    assert sorted((d["scope_id"], d["document_id"]) for d in every_project) == [
        ("x", "p"), ("y", "q")
    ]  # fmt: skip
    stats = call(rt, "RAG.get_stats")
    assert (stats["documents"], stats["chunks"], stats["vectors"]) == (4, 4, 4)
    assert stats["dimensions"] == 256 and stats["embedding_model"].startswith("wordllama")
    assert stats["storage_bytes"] > 4 * 256 * 4
    assert call(rt, "RAG.get_stats", "project")["documents"] == 2
    assert call(rt, "RAG.get_stats", "project", "x")["documents"] == 1
    assert call(rt, "RAG.delete", "pg") == 1
    assert call(rt, "RAG.delete", "pg") == 0
    assert call(rt, "RAG.delete", "p") == 0, "a scoped document is deleted in its scope"
    assert call(rt, "RAG.delete", "p", {"scope": "project", "scope_id": "x"}) == 1
    assert call(rt, "RAG.get_stats")["documents"] == 3


def test_list_providers_names_the_active_one(rt: ScriptRuntime) -> None:
    providers = as_list(call(rt, "RAG.list_providers"))
    assert [p["name"] for p in providers] == ["local", "openai", "ollama", "hash"]
    active = [p for p in providers if p["active"]]
    assert [p["name"] for p in active] == ["local"] and active[0]["model"].startswith("wordllama")


def _minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing `text` in Helvetica (written by hand: offsets in the xref)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "notes.txt").write_text("Plain notes about the harbour ferry timetable.\n")
    (folder / "guide.md").write_text("# Ferry guide\n\nBoats leave the harbour every hour.\n")
    (folder / "page.html").write_text(
        "<html><head><title>Ferries</title><style>p{color:red}</style></head><body>"
        "<h1>Harbour</h1><p>The ferry &amp; the tram share a ticket.</p>"
        "<script>document.write('secret script text')</script></body></html>"
    )
    (folder / "timetable.pdf").write_bytes(_minimal_pdf("Night ferries run until midnight"))
    (folder / "blob.txt").write_bytes(b"\x00\x01binary")
    return folder


def test_ingest_file_reads_text_markdown_html_and_pdf(
    make_runtime: MakeRuntime, engine: str, library: Path
) -> None:
    rt = make_runtime(engine, tools__allowed_paths=[str(library)])
    for name in ("notes.txt", "guide.md", "page.html", "timetable.pdf"):
        report = call(rt, "RAG.ingest_file", str(library / name))
        assert report["documents_processed"] == 1, name
    docs = {d["metadata"]["format"]: d for d in as_list(call(rt, "RAG.list_documents"))}
    assert set(docs) == {"text", "markdown", "html", "pdf"}
    assert docs["markdown"]["metadata"]["title"] == "Ferry guide"
    assert docs["html"]["metadata"]["title"] == "Ferries"
    assert docs["pdf"]["metadata"]["pages"] == 1
    assert docs["html"]["document_id"] == str(library / "page.html")
    html_hits = as_list(call(rt, "RAG.search", "ferry tram ticket", {"k": 1})["results"])
    assert html_hits[0]["content"] == "Harbour\n\nThe ferry & the tram share a ticket."
    assert "secret" not in html_hits[0]["content"] and "color" not in html_hits[0]["content"]
    night = call(rt, "RAG.search", "midnight night ferries", {"k": 1})
    assert ids(night) == [str(library / "timetable.pdf")]
    custom = call(rt, "RAG.ingest_file", str(library / "notes.txt"),
                  {"id": "notes", "metadata": {"kind": "memo"}, "format": "markdown"})  # fmt: skip
    assert custom["documents_processed"] == 1
    memo = call(rt, "RAG.search", "ferry", {"filters": {"kind": "memo"}})
    assert ids(memo) == ["notes"]
    assert "binary" in call_error(rt, "RAG.ingest_file", str(library / "blob.txt")).evalue


def test_ingest_file_stays_inside_allowed_paths(
    make_runtime: MakeRuntime, library: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not for scripts")
    rt = make_runtime("lua", tools__allowed_paths=[str(library)])
    error = call_error(rt, "RAG.ingest_file", str(outside))
    assert error.evalue.startswith("RAG.ingest_file: ") and "outside tools.allowed_paths" in (
        error.evalue
    )
    (library / "link.txt").symlink_to(outside)
    assert (
        "outside tools.allowed_paths"
        in call_error(rt, "RAG.ingest_file", str(library / "link.txt")).evalue
    )
    closed = make_runtime("lua", tools__allowed_paths=[])
    assert (
        "tools.allowed_paths is empty"
        in call_error(closed, "RAG.ingest_file", str(library / "notes.txt")).evalue
    )


def test_a_pdf_without_pypdf_is_a_clear_error(
    make_runtime: MakeRuntime, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pypdf", None)
    rt = make_runtime("lua", tools__allowed_paths=[str(library)])
    error = call_error(rt, "RAG.ingest_file", str(library / "timetable.pdf"))
    assert "needs the pypdf package, which is not installed: pip install 'llmspell[pdf]'" in (
        error.evalue
    )


def test_rag_disabled_in_config_is_a_clear_error(make_runtime: MakeRuntime) -> None:
    rt = make_runtime("lua", rag__enabled=False)
    error = call_error(rt, "RAG.search", "anything")
    assert error.evalue == "RAG.search: disabled in config (rag.enabled = false)"


def test_a_large_ingest_shows_progress_that_updates_in_place(make_runtime: MakeRuntime) -> None:
    rt = make_runtime("lua")
    result = rt.execute(
        "local docs = {}\n"
        "for i = 1, 40 do docs[i] = {id = 'd' .. i, content = string.rep("
        "'Word number ' .. i .. ' in a long line. ', 60)} end\n"
        "return RAG.ingest(docs, {chunk_size = 32, chunk_overlap = 0}).chunks_created"
    )
    assert result.value > 256
    progress = [d for d in result.displays if "RAG.ingest:" in d.get("text/plain", "")]
    assert len(progress) == 1, "one display, updated in place"
    assert progress[0]["text/plain"].startswith(f"RAG.ingest: {result.value}/{result.value} ")
    assert "application/json" not in progress[0], "Lab would show it in place of the bar"
    assert "<progress" in progress[0]["text/html"]


def test_search_results_and_stats_render_as_tables_with_matched_terms_marked(
    lua: ScriptRuntime,
) -> None:
    ingest(lua, DOCS)
    bundle = lua.execute("return RAG.search('sleeping cats', {k = 1})").bundle
    assert "<table>" in bundle["text/html"]
    assert (
        "<mark>Cats</mark>" in bundle["text/html"] and "<mark>sleep</mark>" in (bundle["text/html"])
    )
    stats = lua.execute("return RAG.get_stats()").bundle["text/html"]
    assert "<td>storage_bytes</td>" in stats
