"""Migrations: one head, upgrade from empty on both databases, no drift from the models, and the schema
document lists exactly what the database holds."""

from __future__ import annotations

import hashlib
import os
import re
import struct
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from storage import Archive, dedupe
from storage.db import HEAD_REVISION, alembic_config, current_revision, head_revision, make_engine, upgrade
from storage.models import Base
from storage.search import is_search_table

sys.path.insert(0, str(Path(__file__).parent))
from archive_scenarios import T0, article_text, make_item  # noqa: E402

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
CONTRACT_VIEWS = {
    "latest_articles": ["article_id", "source_id", "url", "title", "text", "language", "published_at",
                        "version_no", "first_seen_at", "last_seen_at", "removed_at", "duplicate_of", "cluster_id"],
    "article_history": ["article_id", "url", "version_no", "reason", "title", "text", "captured_at",
                        "chars_added", "chars_removed"],
}


def _include_name(name: str | None, type_: str, _parent: object) -> bool:
    return not (type_ == "table" and name is not None and is_search_table(name))


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    if revision != "base":
        assert current_revision(engine) == revision


def test_migrations_have_a_single_head_and_dated_file_names() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    for rev in script.walk_revisions():
        assert re.match(r"\d{4}_\d{2}_\d{2}_", Path(rev.path).name), rev.path


def test_the_head_constant_is_alembics_head_and_an_archive_at_head_opens_without_alembic(db_url: str) -> None:
    assert HEAD_REVISION == head_revision()
    upgrade(db_url)
    code = ("import sys; from storage import Archive; a = Archive.open(sys.argv[1]); a.counts(); a.close(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    done = subprocess.run([sys.executable, "-c", code, db_url], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
    # One revision behind: the archive is migrated on open, through Alembic.
    engine = make_engine(db_url)
    try:
        _downgrade(engine, "0002")
        done = subprocess.run([sys.executable, "-c", code, db_url], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
        assert done.returncode == 0, done.stderr[-2000:]
        assert "alembic" in done.stdout
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()


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
        _downgrade(engine, "base")
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


# --- 0003: MinHash signatures recomputed with the one-hash-per-shingle scheme ---------------------


def _signature_rows(engine: Engine) -> dict[int, tuple[int, str, bytes, str]]:
    """{article_id: (version_no, shingling, signature bytes, that version's text)}."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT s.article_id, s.version_no, s.shingling, s.signature, v.text FROM minhash_signatures s "
            "JOIN article_versions v ON v.article_id = s.article_id AND v.version_no = s.version_no")).all()
    return {r[0]: (r[1], r[2], bytes(r[3]), r[4]) for r in rows}


def _band_rows(engine: Engine) -> set[tuple[int, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT article_id, band, bucket_hash FROM minhash_bands"))
        return {(r[0], r[1], r[2]) for r in rows}


def _shake_values(body: str) -> tuple[int, ...]:
    """The signature values of revisions 0001-0002, written out here independently of the migration."""
    _, grams = dedupe.shingles(body)
    rows = [struct.unpack(">64Q", hashlib.shake_128(g.encode("utf-8")).digest(512)) for g in grams]
    return tuple(min(column) for column in zip(*rows, strict=True))


def test_upgrade_to_0003_replaces_old_style_signatures_and_bands(db_url: str) -> None:
    en = article_text(3, "A")
    zh = ("关于组织申报2026年度国家自然科学基金项目的通知。各有关单位：现将2026年度项目申报工作有关事项"
          "通知如下。申报截止时间为2026年3月20日16时。联系人：科研处王老师。")
    archive = Archive.open(db_url)
    try:
        archive.store([make_item("https://ministry.example/a", en, T0),
                       make_item("https://gov.example.cn/b", zh, T0 + timedelta(hours=1))])
        # A second version: the signature row names version 2, whose text the migration must use.
        archive.store([make_item("https://ministry.example/a", article_text(3, "B"), T0 + timedelta(hours=2))])
    finally:
        archive.close()
    engine = make_engine(db_url)
    try:
        _downgrade(engine, "0002")
        old = _signature_rows(engine)
        assert sorted(v[0] for v in old.values()) == [1, 2] and {v[1] for v in old.values()} == {"word3", "char5"}
        for _version_no, shingling, data, body in old.values():  # what code at 0002 stored
            assert dedupe.Signature.from_bytes(shingling, data).values == _shake_values(body)
        assert _band_rows(engine) == {(a, b, h) for a, (_, s, d, _) in old.items()
                                      for b, h in dedupe.Signature.from_bytes(s, d).bands()}

        upgrade(db_url)
        assert current_revision(engine) == head_revision()
        new = _signature_rows(engine)
        assert new.keys() == old.keys()
        expected_bands = set()
        for article_id, (version_no, shingling, data, body) in new.items():
            sig = dedupe.signature(body)
            assert sig is not None and (shingling, data) == (sig.shingling, sig.to_bytes())
            assert version_no == old[article_id][0] and data != old[article_id][2]
            expected_bands |= {(article_id, b, h) for b, h in sig.bands()}
        assert _band_rows(engine) == expected_bands
    finally:
        engine.dispose()
    # The upgraded archive finds a near duplicate of a text stored before the upgrade.
    archive = Archive.open(db_url)
    try:
        archive.store([make_item("https://gov.example.cn/b-repost", zh.replace("3月20日", "3月27日"),
                                 T0 + timedelta(hours=3))])
        original, repost = archive.latest("https://gov.example.cn/b"), archive.latest("https://gov.example.cn/b-repost")
        assert original is not None and repost is not None
        assert original.cluster_id is not None and repost.cluster_id == original.cluster_id
    finally:
        archive.close()


# --- 0004: SQLite's FTS5 index merges 8 segments at a time ---------------------------------------


def _fts_automerge(engine: Engine) -> int | None:
    with engine.connect() as conn:
        value = conn.execute(text("SELECT v FROM article_search_config WHERE k = 'automerge'")).scalar()
    return None if value is None else int(value)


def test_0004_sets_the_sqlite_search_index_automerge_and_its_downgrade_restores_the_default(
        sqlite_url: str) -> None:
    archive = Archive.open(sqlite_url)  # migrated to head
    try:
        archive.store([make_item("https://ministry.example/a", article_text(3, "A"), T0)])
        assert [a.url for a in archive.search("science ministry")] == ["https://ministry.example/a"]
    finally:
        archive.close()
    engine = make_engine(sqlite_url)
    try:
        assert _fts_automerge(engine) == 8
        _downgrade(engine, "0003")
        assert _fts_automerge(engine) == 4
        upgrade(sqlite_url)
        assert current_revision(engine) == "0004" and _fts_automerge(engine) == 8
        # The index still answers after the change (the setting only decides when segments merge).
        with engine.connect() as conn:
            found = conn.execute(text("SELECT count(*) FROM article_search WHERE article_search MATCH :q"),
                                 {"q": '"science ministry"'}).scalar()
        assert found == 1
    finally:
        engine.dispose()
