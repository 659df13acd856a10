"""Read-only access for downstream readers: a SELECT-only PostgreSQL role, a mode=ro SQLite engine."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

sys.path.insert(0, str(Path(__file__).parent))

from archive_scenarios import T0, article_text, make_item  # noqa: E402

from storage import Archive, make_engine  # noqa: E402
from storage.errors import SchemaNotReadyError  # noqa: E402
from storage.roles import create_readonly_role  # noqa: E402


def test_readonly_role_can_select_and_cannot_write(pg_url: str) -> None:
    archive = Archive.open(pg_url)
    archive.store([make_item("https://ministry.example/a", article_text(1, "A"), T0)])
    create_readonly_role(pg_url, "scipol_reader", "s3cret")
    create_readonly_role(pg_url, "scipol_reader", "n3w-s3cret")  # repeatable
    with archive.engine.begin() as conn:  # a table added later by a migration is readable too
        conn.execute(text("CREATE TABLE later_table (x integer)"))
    archive.close()

    reader_url = make_url(pg_url).set(username="scipol_reader", password="n3w-s3cret")
    engine = make_engine(reader_url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM latest_articles")).scalar() == 1
            assert conn.execute(text("SELECT COUNT(*) FROM later_table")).scalar() == 0
        for stmt in ("DELETE FROM article_versions", "INSERT INTO later_table VALUES (1)",
                     "CREATE TABLE sneaky (x integer)"):
            # Refused twice over: the role's transactions are read-only by default...
            with pytest.raises(DBAPIError, match="read-only transaction"), engine.begin() as conn:
                conn.execute(text(stmt))
            # ...and a reader that switches that off still lacks the privileges.
            with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as conn:
                conn.execute(text("SET TRANSACTION READ WRITE"))
                conn.execute(text(stmt))
    finally:
        engine.dispose()
    reader = Archive.open(reader_url.render_as_string(hide_password=False), readonly=True)
    try:
        assert reader.latest("https://ministry.example/a") is not None
    finally:
        reader.close()


def test_role_names_are_validated(pg_url: str) -> None:
    with pytest.raises(ValueError):
        create_readonly_role(pg_url, 'bad"; DROP TABLE articles; --', "x")


def test_readonly_sqlite_needs_an_existing_migrated_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaNotReadyError):
        Archive.open(f"sqlite:///{tmp_path}/missing.db", readonly=True)
    Archive.open(f"sqlite:///{tmp_path}/a.db").close()
    reader = Archive.open(f"sqlite:///{tmp_path}/a.db", readonly=True)
    try:
        assert reader.counts()["articles"] == 0
        with pytest.raises(OperationalError, match="readonly"), reader.engine.begin() as conn:
            conn.execute(text("INSERT INTO runs (run_id, flow, started_at, status, report) "
                              "VALUES ('x', 'f', '2026-01-01', 'running', '{}')"))
    finally:
        reader.close()
