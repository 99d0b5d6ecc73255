"""`UtcDateTime` on SQLite: its own bind and result functions give exactly the text and the
values SQLAlchemy's chain (the type's conversion, then DATETIME's format) gives, and a naive
timestamp is refused as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from llmspell.storage.schema import UtcDateTime

DIALECT = sqlite.dialect()
OURS = UtcDateTime()
BIND = OURS.dialect_impl(DIALECT).bind_processor(DIALECT)
READ = OURS.dialect_impl(DIALECT).result_processor(DIALECT, None)
SQLALCHEMY_FORMAT = DateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
SQLALCHEMY_PARSE = DateTime().dialect_impl(DIALECT).result_processor(DIALECT, None)

offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
)


@given(moments)
def test_a_timestamp_is_stored_as_the_text_sqlalchemy_writes_and_read_back_equal(
    moment: datetime,
) -> None:
    assert BIND is not None and READ is not None
    assert SQLALCHEMY_FORMAT is not None and SQLALCHEMY_PARSE is not None
    text = BIND(moment)
    assert text == SQLALCHEMY_FORMAT(moment.astimezone(UTC))
    back = READ(text)
    assert back == moment and back.tzinfo is UTC
    assert back == SQLALCHEMY_PARSE(text).replace(tzinfo=UTC)


def test_none_passes_and_a_naive_timestamp_is_refused() -> None:
    assert BIND is not None and READ is not None
    assert BIND(None) is None and READ(None) is None
    with pytest.raises(ValueError, match="timestamps must be timezone-aware"):
        BIND(datetime(2026, 1, 1))


def test_a_stored_text_with_an_offset_reads_as_the_same_moment_in_utc() -> None:
    assert READ is not None
    assert READ("2026-01-01 02:00:00.000000+02:00") == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_stored_date_without_a_time_reads_as_midnight_utc() -> None:
    assert READ is not None
    assert READ("2026-01-01") == datetime(2026, 1, 1, tzinfo=UTC)
