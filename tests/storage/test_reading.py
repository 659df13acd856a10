"""The read side (`storage.reading.Reader`) on SQLite and PostgreSQL: feed semantics, read-only access,
streaming export, search ordering."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage import Archive
from storage.reading import Reader, format_cursor, parse_cursor
from tests.support import access_archive as data


def test_a_page_that_goes_comes_back_and_goes_again_gives_two_removals_and_a_reappearance(
    db_url: str,
) -> None:
    url = data.OLD_CALL_URL
    with Archive.open(db_url) as archive:
        archive.store(
            [
                data.page(data.EN, url, "Polar call", data.OLD_CALL_TEXT, data.at(0), language="en"),
                data.gone(data.EN, url, data.at(1)),
                data.gone(data.EN, url, data.at(2)),
                data.page(data.EN, url, "Polar call", data.OLD_CALL_TEXT, data.at(3), language="en"),
                data.gone(data.EN, url, data.at(4)),
            ]
        )
    with Reader.open(db_url) as reader:
        page = reader.changes(since=data.T0, settle_seconds=0)
    assert [e.event for e in page.events] == ["new", "removed", "reappeared", "removed"]
    assert [e.at for e in page.events] == [data.at(0), data.at(1), data.at(3), data.at(4)]
    assert not page.more


def test_the_feed_holds_back_rows_stored_within_the_settle_window_on_postgresql(db_url: str) -> None:
    data.fill(db_url, with_later=False)
    with Reader.open(db_url) as reader:
        now = datetime.now(UTC)
        held = reader.changes(since=data.T0, settle_seconds=3600, now=now)
        later = reader.changes(since=data.T0, settle_seconds=3600, now=now + timedelta(hours=2))
        dialect = reader.engine.dialect.name
    assert len(later.events) == 6
    if dialect == "postgresql":
        assert held.events == [] and held.next_cursor is None  # nothing settled yet: start again from scratch
    else:  # SQLite writers are serialised: ids are in commit order, nothing to wait for
        assert held.events == later.events


def test_the_reader_cannot_write(db_url: str) -> None:
    data.fill(db_url, with_later=False)
    with Reader.open(db_url) as reader, reader.engine.connect() as conn, pytest.raises(DBAPIError):
        conn.execute(
            text(
                "INSERT INTO sources (id, name, config, created_at, updated_at) "
                "VALUES ('x', 'x', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        conn.commit()


def test_export_rows_stream_in_small_chunks_and_match_the_count(db_url: str) -> None:
    ids = data.fill(db_url)
    with Reader.open(db_url) as reader:
        rows = list(reader.export_rows(chunk=2))
        assert reader.export_count() == len(rows) == 6
        versions = list(reader.export_rows(all_versions=True, chunk=3))
        assert reader.export_count(all_versions=True) == len(versions) == 8
        zh_since = list(reader.export_rows(language="zh", since=data.at(4)))
    assert [r["article_id"] for r in zh_since] == [ids.keji_copy, ids.ai_zh]
    assert rows[0]["authors"] == ["Press Office"]
    assert isinstance(rows[0]["first_seen_at"], datetime) and rows[0]["first_seen_at"].tzinfo is not None


def test_search_breaks_ties_by_recency_and_respects_the_limit(db_url: str) -> None:
    body = "A notice about the ocean observation network and its funding."
    with Archive.open(db_url) as archive:
        archive.store(
            [
                data.page(
                    data.EN,
                    f"https://nsf.example/ocean/{n}",
                    f"Notice {n}",
                    f"{body} Number {n}.",
                    data.at(n),
                    language="en",
                    published=date(2026, 1, 1 + n),
                )
                for n in range(5)
            ]
        )
    with Reader.open(db_url) as reader:
        hits = reader.search("ocean", limit=3)
        short = reader.search("an", limit=10)  # under three characters: the LIKE path
    assert [h.title for h in hits] == ["Notice 4", "Notice 3", "Notice 2"]
    assert len(short) == 5


def test_cursors_round_trip_and_junk_is_refused() -> None:
    cursor = format_cursor(datetime(2026, 3, 1, 8, tzinfo=UTC), 42)
    assert cursor == "2026-03-01T08:00:00.000000Z|42"
    assert parse_cursor(cursor) == 42
    for junk in ("", "42", "x|y", "2026-03-01|-1", "a|1|2"):
        with pytest.raises(ValueError):
            parse_cursor(junk)
