"""Engines: which database, and how SQLite connections are set up for concurrent writers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import database_url, make_engine, normalise_url, safe_url
from storage.errors import UnsupportedDatabaseError


def test_database_url_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCIPOL_DATABASE_URL", raising=False)
    assert database_url() == "sqlite:///./scipol.db"
    monkeypatch.setenv("SCIPOL_DATABASE_URL", "postgresql://u:pw@db.internal/scipol")
    assert database_url() == "postgresql://u:pw@db.internal/scipol"


def test_urls_are_normalised_to_our_drivers_and_passwords_masked() -> None:
    for given in ("postgresql://u:pw@h/db", "postgres://u:pw@h/db", "postgresql+psycopg://u:pw@h/db"):
        assert normalise_url(given).drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite+pysqlite"
    assert "pw" not in safe_url("postgresql://u:pw@h/db")
    with pytest.raises(UnsupportedDatabaseError):
        normalise_url("mysql://u@h/db")


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/sub/dir/a.db")  # missing folders are created
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
    finally:
        engine.dispose()


def test_sqlite_writers_take_the_lock_at_begin_and_readers_are_not_blocked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a.db"
    writer, other = make_engine(url), make_engine(url)
    try:
        with writer.begin() as conn:
            conn.execute(text("CREATE TABLE t (x integer)"))
        with writer.begin() as conn:
            conn.execute(text("SELECT 1"))  # no write yet, but BEGIN IMMEDIATE holds the write lock
            raw = other.raw_connection()
            try:
                raw.execute("PRAGMA busy_timeout = 50")
                with pytest.raises(Exception, match="database is locked"):
                    raw.execute("BEGIN IMMEDIATE")
            finally:
                raw.close()
            with other.connect().execution_options(scipol_read=True) as reader:
                assert reader.execute(text("SELECT COUNT(*) FROM t")).scalar() == 0
    finally:
        writer.dispose()
        other.dispose()
