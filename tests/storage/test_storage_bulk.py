"""Multi-row inserts (storage/bulk.py): the rows stored are the rows given, on SQLite and PostgreSQL,
and on PostgreSQL a whole chunk's rows of a table take one statement."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import IntegrityError

from storage import bulk
from storage.db import make_engine, upgrade
from storage.models import CaptureBody, FetchErrorRow, Run, Source
from tests.support.postgres import empty_archive

T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/bulk.db"
        upgrade(url)
    else:
        url = request.getfixturevalue("migrated_pg_url")
    eng = make_engine(url)
    if eng.dialect.name == "postgresql":
        with eng.begin() as conn:
            empty_archive(conn)
    yield eng
    eng.dispose()


def _body(i: int, **overrides: Any) -> dict[str, Any]:
    row = {"sha256": f"{i:064x}", "body": bytes([i % 256]) * (i + 1), "compression": "zlib", "size": 10 * i,
           "compressed_size": i + 1, "created_at": T0 + timedelta(minutes=i)}
    row.update(overrides)
    return row


def _bodies(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(CaptureBody.__table__.select().order_by(CaptureBody.sha256)).all()
    return [(r.sha256, bytes(r.body), r.compression, r.size, r.compressed_size, r.created_at) for r in rows]


def _statements(engine: Engine) -> list[tuple[str, bool]]:
    """Every statement the engine sends from now on: (SQL, executemany)."""
    seen: list[tuple[str, bool]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append((statement, executemany))

    return seen


def test_rows_are_stored_as_given_in_one_statement_on_postgresql(engine: Engine) -> None:
    rows = [_body(i) for i in range(300)]
    # A naive time is UTC (UTCDateTime's bind processor runs on every element of the array).
    rows[7]["created_at"] = datetime(2026, 11, 2, 8, 30)
    sent = _statements(engine)
    with engine.begin() as conn:
        bulk.insert_many(conn, CaptureBody, rows)
    inserts = [s for s in sent if s[0].lstrip().upper().startswith("INSERT")]
    if engine.dialect.name == "postgresql":
        assert len(inserts) == 1 and not inserts[0][1]
    else:
        assert len(inserts) == 1 and inserts[0][1]  # sqlite3's executemany
    expected = sorted((r["sha256"], r["body"], r["compression"], r["size"], r["compressed_size"],
                       r["created_at"] if r["created_at"].tzinfo else r["created_at"].replace(tzinfo=UTC))
                      for r in rows)
    assert _bodies(engine) == expected


def test_null_columns_and_json_values_survive(engine: Engine) -> None:
    rows = [{"run_id": f"run-{i:03d}", "flow": "ingest", "started_at": T0 + timedelta(seconds=i),
             "finished_at": None, "status": "running", "report": {"n": i, "text": "科技 '\"{}"}}
            for i in (5, 3, 9, 1)]
    with engine.begin() as conn:
        bulk.insert_many(conn, Run, rows)  # finished_at: NULL in every row, an array psycopg cannot type
    with engine.connect() as conn:
        got = conn.execute(Run.__table__.select().order_by(Run.started_at)).all()
    assert [(r.run_id, r.finished_at, r.report) for r in got] == [
        (f"run-{i:03d}", None, {"n": i, "text": "科技 '\"{}"}) for i in (1, 3, 5, 9)]


def test_serial_ids_follow_the_order_of_the_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        bulk.insert_many(conn, Source, [{"id": "s", "name": "S", "config": {}, "created_at": T0, "updated_at": T0}])
        bulk.insert_many(conn, FetchErrorRow, [
            {"source_id": "s", "url": f"https://gov.example/{n}", "reason": "http", "status": 500, "message": "",
             "at": T0, "run_id": None} for n in ("c", "a", "d", "b")])
    with engine.connect() as conn:
        got = conn.execute(text("SELECT url FROM fetch_errors ORDER BY id")).scalars().all()
    assert got == [f"https://gov.example/{n}" for n in ("c", "a", "d", "b")]


def test_conflicting_rows_are_skipped_only_when_asked(engine: Engine) -> None:
    with engine.begin() as conn:
        bulk.insert_many(conn, CaptureBody, [_body(1), _body(2)])
    with engine.begin() as conn:
        # One row already stored, one given twice, one new: the stored and the first given win.
        bulk.insert_many(conn, CaptureBody, [_body(2, size=999), _body(3), _body(3, size=777), _body(4)],
                         skip_conflicts=True)
    assert [(sha[-1], size) for sha, _, _, size, _, _ in _bodies(engine)] == [
        ("1", 10), ("2", 20), ("3", 30), ("4", 40)]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        bulk.insert_many(conn, CaptureBody, [_body(5), _body(1)])
    assert len(_bodies(engine)) == 4  # the failed statement stored nothing


def test_no_rows_send_no_statement(engine: Engine) -> None:
    sent = _statements(engine)
    with engine.begin() as conn:
        bulk.insert_many(conn, CaptureBody, [])
    assert not [s for s in sent if "capture_bodies" in s[0]]
