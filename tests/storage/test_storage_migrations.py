"""Migrations: one head, upgrade from empty on both databases, no drift from the models, and the schema
document lists exactly what the database holds."""

from __future__ import annotations

import re
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from storage.db import alembic_config, current_revision, head_revision, make_engine, upgrade
from storage.models import Base
from storage.search import is_search_table

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
CONTRACT_VIEWS = {
    "latest_articles": ["article_id", "source_id", "url", "title", "text", "language", "published_at",
                        "version_no", "first_seen_at", "last_seen_at", "removed_at", "duplicate_of", "cluster_id"],
    "article_history": ["article_id", "url", "version_no", "reason", "title", "text", "captured_at",
                        "chars_added", "chars_removed"],
}


def _include_name(name: str | None, type_: str, _parent: object) -> bool:
    return not (type_ == "table" and name is not None and is_search_table(name))


def test_migrations_have_a_single_head_and_dated_file_names() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    for rev in script.walk_revisions():
        assert re.match(r"\d{4}_\d{2}_\d{2}_", Path(rev.path).name), rev.path


def test_upgrade_from_empty_reaches_head_without_drift_and_downgrades_cleanly(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": _include_name})
            assert compare_metadata(ctx, Base.metadata) == []
            views = set(inspect(conn).get_view_names())
            assert set(CONTRACT_VIEWS) | {"article_timeline"} <= views
            assert conn.execute(text("SELECT COUNT(*) FROM article_search")).scalar() == 0
        upgrade(db_url)  # a second upgrade is a no-op
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        with engine.connect() as conn:
            left = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
            assert left == [] and inspect(conn).get_view_names() == []
        upgrade(db_url)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def _documented() -> dict[str, dict[str, list[str]]]:
    """{"tables"|"views": {name: [columns in order]}} parsed from docs/schema.md."""
    doc: dict[str, dict[str, list[str]]] = {"tables": {}, "views": {}}
    section = current = None
    for line in SCHEMA_DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = {"## Tables": "tables", "## Views": "views"}.get(line.strip())
            current = None
        elif line.startswith("### ") and section:
            current = line[4:].strip().strip("`")
            doc[section][current] = []
        elif current and section and (m := re.match(r"\|\s*`([a-z_0-9]+)`\s*\|", line)):
            doc[section][current].append(m.group(1))
    return doc


POSTGRESQL_ONLY = {("article_search", "cjk_bigrams")}


def test_schema_doc_lists_every_table_column_and_view_of_the_migrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/doc.db"
    upgrade(url)
    engine = make_engine(url)
    try:
        insp = inspect(engine)
        tables = {t: [c["name"] for c in insp.get_columns(t)] for t in insp.get_table_names()
                  if t != "alembic_version" and not (is_search_table(t) and t != "article_search")}
        views = {v: [c["name"] for c in insp.get_columns(v)] for v in insp.get_view_names()}
    finally:
        engine.dispose()
    doc = _documented()
    # Columns that exist on PostgreSQL only (documented as such) are not in this SQLite database.
    sqlite_doc = {t: [c for c in cols if (t, c) not in POSTGRESQL_ONLY] for t, cols in doc["tables"].items()}
    assert sqlite_doc == tables
    assert doc["views"] == views
    models = {t.name: [c.name for c in t.columns] for t in Base.metadata.sorted_tables}
    assert {t: cols for t, cols in doc["tables"].items() if t != "article_search"} == models
    for view, columns in CONTRACT_VIEWS.items():
        assert doc["views"][view][:len(columns)] == columns
