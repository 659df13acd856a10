"""The write path's driver-level statements send what SQLAlchemy itself would send, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, insert, select
from sqlalchemy.exc import IntegrityError

from storage import Archive, driver
from storage.db import upgrade
from storage.models import Article, CaptureBody, Source
from storage.statements import statements
from tests.support.postgres import PostgresServer

NOW = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
LOCAL = NOW.astimezone(timezone(timedelta(hours=8)))  # the same instant, another offset: stored as UTC


class _Sent(Exception):
    """Raised by the listener before the statement reaches the database."""


@pytest.fixture(params=["sqlite", "postgresql"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Archive]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/archive.db"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database()
        upgrade(url)
    arch = Archive.open(url)
    yield arch
    arch.close()


def _what_sqlalchemy_sends(conn: Connection, statement: Any, params: dict[str, Any]) -> tuple[str, Any]:
    sent: list[tuple[str, Any]] = []

    def listener(_conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any, _many: bool) -> None:
        sent.append((sql, parameters))
        raise _Sent

    event.listen(conn.engine, "before_cursor_execute", listener)
    try:
        with pytest.raises(_Sent):
            conn.execute(statement, params)
    finally:
        event.remove(conn.engine, "before_cursor_execute", listener)
    return sent[0]


def _comparable(args: Any) -> Any:
    """Driver arguments with psycopg's JSON wrappers (no equality of their own) as plain tuples."""
    def one(value: Any) -> Any:
        if type(value).__name__ in ("Json", "Jsonb"):
            return (type(value).__name__, value.obj)
        return value
    if isinstance(args, dict):
        return {k: one(v) for k, v in args.items()}
    return tuple(one(v) for v in args)


def _cases(dialect: str) -> list[tuple[str, Any, dict[str, Any]]]:
    sql = statements(dialect)
    return [
        ("insert_article_id", sql.insert_article_id, {
            "source_id": "s", "canonical_url": "https://x.example/a", "first_seen_at": LOCAL, "last_seen_at": NOW,
            "last_fetched_at": NOW, "latest_version_no": 0, "removed_at": None, "duplicate_of": None,
            "cluster_id": None, "latest_text_hash": None}),
        ("insert_article_url", sql.insert_article_url,
         {"url": "https://x.example/a?b=1", "article_id": 7, "first_seen_at": LOCAL}),
        ("insert_capture", sql.insert_capture, {
            "sha256": "ab" * 32, "source_id": "s", "article_id": 7, "url": "https://x.example/a",
            "final_url": "https://x.example/a", "status": 200, "kind": "page",
            "headers": {"content-type": "text/html; charset=gb2312", "etag": '"v1"'},
            "content_type": "text/html", "etag": '"v1"', "last_modified": None, "fetched_at": LOCAL,
            "run_id": "r1", "discovered_via": "sitemap", "hint_title": "标题", "hint_published": None,
            "hint_language": None, "created_at": NOW}),
        ("insert_capture, no headers", sql.insert_capture, {
            "sha256": None, "source_id": "s", "article_id": None, "url": "https://x.example/b",
            "final_url": "https://x.example/b", "status": 404, "kind": "gone", "headers": {},
            "content_type": "", "etag": None, "last_modified": None, "fetched_at": NOW, "run_id": None,
            "discovered_via": "feed", "hint_title": None, "hint_published": NOW, "hint_language": "zh",
            "created_at": NOW}),
        ("insert_version", sql.insert_version, {
            "article_id": 7, "version_no": 2, "reason": "edited", "title": "T", "text": "正文\nline",
            "text_hash": "cd" * 32, "authors": ["陈楠", "Jane Roe"], "published_at": LOCAL, "updated_at": None,
            "language": "zh", "language_confidence": 0.93, "site_name": None, "url": "https://x.example/a",
            "capture_id": 3, "captured_at": NOW, "extractor_version": "e1", "chars_added": 5,
            "chars_removed": 0, "created_at": NOW}),
        ("insert_version, no authors", sql.insert_version, {
            "article_id": 7, "version_no": 1, "reason": "new", "title": "", "text": "x", "text_hash": "ef" * 32,
            "authors": [], "published_at": None, "updated_at": None, "language": None,
            "language_confidence": None, "site_name": "S", "url": "https://x.example/a", "capture_id": None,
            "captured_at": NOW, "extractor_version": "e1", "chars_added": 1, "chars_removed": 0, "created_at": NOW}),
        ("update_article, seen", sql.update_article, {"b_id": 7, "last_seen_at": LOCAL, "last_fetched_at": NOW}),
        ("update_article, new version", sql.update_article, {
            "b_id": 7, "last_seen_at": NOW, "last_fetched_at": NOW, "latest_version_no": 2,
            "latest_text_hash": "ef" * 32, "removed_at": None, "duplicate_of": 3}),
        ("exact_duplicate", sql.exact_duplicate, {"digest": "ef" * 32, "article_id": 7}),
    ]


def test_each_statement_sends_the_sql_and_parameters_sqlalchemy_sends(archive: Archive) -> None:
    with archive.engine.connect() as conn, conn.begin():  # BEGIN first: the listener only sees the statements
        for name, statement, params in _cases(conn.dialect.name):
            expected_sql, expected_args = _what_sqlalchemy_sends(conn, statement, params)
            prepared = driver.prepared(conn, statement, tuple(params))
            assert prepared.sql == expected_sql, name
            assert _comparable(prepared.arguments(params)) == _comparable(expected_args), name


def test_rows_written_through_the_driver_read_back_as_written(archive: Archive) -> None:
    sql_ = statements(archive.engine.dialect.name)
    params = _cases(archive.engine.dialect.name)[0][2]
    with archive.engine.begin() as conn:
        conn.execute(insert(Source), {"id": "s", "name": "s", "config": {}, "created_at": NOW,
                                                      "updated_at": NOW})
        new_id = driver.scalar(conn, sql_.insert_article_id, params)
        again = driver.scalar(conn, sql_.insert_article_id, params)  # ON CONFLICT DO NOTHING: no row
        changed = driver.execute(conn, sql_.update_article, {"b_id": new_id, "last_seen_at": LOCAL + timedelta(1),
                                                              "last_fetched_at": NOW})
        row = conn.execute(select(Article.first_seen_at, Article.last_seen_at, Article.latest_version_no)
                           .where(Article.id == new_id)).one()
    assert isinstance(new_id, int) and again is None and changed == 1
    assert tuple(row) == (NOW, NOW + timedelta(1), 0)
    assert row[0].utcoffset() == timedelta(0)


def test_driver_errors_are_sqlalchemy_errors(archive: Archive) -> None:
    sql_ = statements(archive.engine.dialect.name)
    params = {**_cases(archive.engine.dialect.name)[0][2], "source_id": "no-such-source"}
    with pytest.raises(IntegrityError) as caught, archive.engine.begin() as conn:
        driver.scalar(conn, sql_.insert_article_id, params)  # a foreign key to a missing source
    assert isinstance(caught.value.orig, archive.engine.dialect.loaded_dbapi.IntegrityError)
    assert "INSERT INTO articles" in str(caught.value)  # the statement, as SQLAlchemy's errors say
    with archive.engine.connect() as conn:  # the transaction was rolled back as a whole
        assert conn.execute(select(Article.id)).first() is None


def test_statements_it_cannot_run_faithfully_are_refused(archive: Archive) -> None:
    with archive.engine.connect() as conn:
        # capture_bodies.compression has a Python-side default that SQLAlchemy would fill in.
        with pytest.raises(ValueError, match="default"):
            driver.prepared(conn, insert(CaptureBody), ("sha256", "body", "size", "compressed_size", "created_at"))
        # An IN list expanded at execution time.
        with pytest.raises(ValueError, match="expanding"):
            driver.prepared(conn, statements(conn.dialect.name).signatures_of, ("ids",))
