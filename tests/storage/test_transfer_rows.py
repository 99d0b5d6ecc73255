"""`storage.ops.rows`: the backup's JSON form of a row round-trips, and the digest migrate and
restore compare ignores row order but sees any changed value."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from storage_helpers import json_values, storable_chars

from llmspell.storage import registry
from llmspell.storage.components.graph import graph_entities
from llmspell.storage.components.hooks import hook_history
from llmspell.storage.components.vectors import VECTOR_TABLES
from llmspell.storage.ops.rows import Digest, decode_row, encode_row, load_order
from llmspell.storage.schema import HALFVEC_FROM

moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
texts = st.text(storable_chars, max_size=30)


@st.composite
def entity_rows(draw: st.DrawFn) -> tuple[object, ...]:
    return (
        draw(texts),  # tenant_id
        draw(texts),  # entity_id
        draw(st.integers(0, 2**31)),  # version
        draw(texts),
        draw(texts),
        draw(st.dictionaries(texts, json_values, max_size=4)),  # properties (JSON)
        draw(moments),
        draw(st.none() | moments),
        draw(moments),
        draw(st.none() | moments),
    )


@given(st.lists(entity_rows(), min_size=1, max_size=8))
def test_a_row_survives_its_json_form(rows: list[tuple[object, ...]]) -> None:
    for row in rows:
        text = json.dumps(encode_row(graph_entities, row))
        assert decode_row(graph_entities, json.loads(text)) == row


@given(st.lists(entity_rows(), min_size=2, max_size=8, unique_by=lambda r: r[1]), st.randoms())
def test_the_digest_ignores_order_and_sees_a_changed_value(
    rows: list[tuple[object, ...]], random: object
) -> None:
    forward, shuffled, changed = Digest(), Digest(), Digest()
    forward.add_batch(graph_entities, rows)
    mixed = list(rows)
    random.shuffle(mixed)  # type: ignore[attr-defined]
    shuffled.add_batch(graph_entities, mixed[:1])
    shuffled.add_batch(graph_entities, mixed[1:])
    first = list(rows[0])
    first[2] = int(first[2]) + 1  # type: ignore[call-overload]
    changed.add_batch(graph_entities, [tuple(first), *rows[1:]])

    assert forward.matches(shuffled) and forward.checksum == shuffled.checksum
    assert not forward.matches(changed)
    assert Digest.of(forward.rows, forward.checksum).matches(forward)


def test_json_key_order_and_halfvec_precision_do_not_change_the_digest() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    a, b = Digest(), Digest()
    base = ("t", "e", 1, "n", "type")
    a.add_batch(graph_entities, [(*base, {"x": 1, "y": [1, 2]}, when, None, when, None)])
    b.add_batch(graph_entities, [(*base, {"y": [1, 2], "x": 1}, when, None, when, None)])
    assert a.matches(b)

    dimension = max(VECTOR_TABLES)
    assert dimension >= HALFVEC_FROM  # kept as halfvec (float16) on PostgreSQL
    wide = VECTOR_TABLES[dimension]
    vector = np.random.default_rng(1).random(dimension).astype(np.float32)
    row: list[object] = ["t", "id", "ns", None, "", {}, "m", when, None, None]
    exact, stored_as_half = Digest(), Digest()
    exact.add_batch(wide, [(*row, vector)])
    stored_as_half.add_batch(wide, [(*row, vector.astype(np.float16).astype(np.float32))])
    assert exact.matches(stored_as_half)


def test_bytes_round_trip_and_tables_load_after_the_ones_they_refer_to() -> None:
    row = (
        "t",
        "x",
        "p",
        "h",
        "n",
        "c",
        None,
        None,
        datetime(2026, 1, 1, tzinfo=UTC),
        1.5,
        "ok",
        None,
        b"\x00\xff",
        True,
    )
    assert decode_row(hook_history, json.loads(json.dumps(encode_row(hook_history, row)))) == row
    order = [t.name for t in load_order(registry.get("artifacts"))]
    assert order.index("artifact_content") < order.index("artifacts")
