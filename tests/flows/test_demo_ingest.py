"""The walking skeleton, end to end: a real Scrapy crawl of the demo site over HTTP on 127.0.0.1,
real extraction, a real archive (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.commands.demo import demo_sources
from flows.demo import DemoSite
from flows.pipeline import IngestOptions
from flows.runs import run_ingest
from storage.archive import Archive

ROOT = Path(__file__).resolve().parents[2]
SEED_END = "compose a new chapter in high -quality development."


def _latest(url: str) -> list[dict[str, object]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select * from latest_articles")).mappings().all()
    engine.dispose()
    return [dict(r) for r in rows]


def _versions(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select url, count(*) as n from article_history group by url")).all()
    engine.dispose()
    return {r[0]: r[1] for r in rows}


def test_two_runs_over_the_demo_site_archive_versions_as_an_archivist_would(db_url: str) -> None:
    with DemoSite() as site:
        sources = demo_sources(site.base_url)
        archive = Archive.open(db_url)
        first = run_ingest(sources, archive, options=IngestOptions(timeout_s=300))
        assert first.status == "completed", first
        site.edition = 2
        second = run_ingest(sources, archive, options=IngestOptions(timeout_s=300))
        assert second.status == "completed", second
        third = run_ingest(sources, archive, options=IngestOptions(timeout_s=300, recheck_known="all"))
        assert third.status == "completed", third

    total1, total2 = first.totals(), second.totals()
    n_urls = len({a.url for a in site.articles})
    assert total1.new_articles >= 30
    assert total1.error_count == 0, first
    assert total1.duplicates >= 1  # the syndicated copy (and the seed's second layout)
    # The second run requests only what the sitemap dates after our copy: the edited article.
    assert total2.new_articles == 0
    assert total2.new_versions == 1
    assert total2.pages_fetched == 1 and total2.known_skipped == n_urls - 1
    # `recheck_known: all` requests every known article conditionally: all 304, nothing new.
    total3 = third.totals()
    assert total3.new_versions == 0 and total3.known_skipped == 0
    assert total3.not_modified >= n_urls - 1 and total3.not_modified + total3.unchanged == total3.pages_fetched

    rows = _latest(db_url)
    seeds = [r for r in rows if str(r["url"]).startswith(site.base_url + "/seed/")]
    assert len(seeds) == 2
    for row in seeds:
        text = str(row["text"])
        assert text.rstrip().endswith(SEED_END)
        for junk in ("- END -", "Summer solstice", "Edit: Chen Nan"):
            assert junk not in text

    versions = _versions(db_url)
    edited = [a for a in site.articles if a.kind == "edited"]
    assert len(edited) == 1
    assert versions[edited[0].url] == 2
    unchanged = [a for a in site.articles if a.kind == "article"]
    assert unchanged and all(versions[a.url] == 1 for a in unchanged)
    languages = {r["language"] for r in rows}
    assert {"en", "zh"} <= languages


def test_the_storing_process_stores_page_bodies_it_never_read(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages reach the storing thread with their bodies still in the spool (`Capture.spooled_body`): the
    extraction workers read, hash and compress them. What is stored is still every page's exact body."""
    from flows import pipeline
    from schemas import Capture

    seen: list[Capture] = []
    store_batch = pipeline._store_batch

    def spy(batch: list[object], *args: object, **kwargs: object) -> None:
        seen.extend(c for c in batch if isinstance(c, Capture) and c.kind == "page")
        store_batch(batch, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "_store_batch", spy)
    with DemoSite() as site:
        archive = Archive.open(sqlite_url)
        try:
            report = run_ingest(demo_sources(site.base_url), archive, options=IngestOptions(timeout_s=300))
            assert report.status == "completed" and report.totals().error_count == 0, report
            assert list(archive.verify_captures()) == []  # every stored body hashes to its sha256
        finally:
            archive.close()
    assert len(seen) >= 30
    assert all(c.body is None and c.spooled_body is not None for c in seen)
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT sha256, size FROM capture_bodies")).all())
    engine.dispose()
    assert {c.sha256: c.spooled_body.length for c in seen if c.spooled_body is not None}.items() <= stored.items()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_scipol_demo_command_twice_leaves_an_archive_and_adds_no_version_the_second_time(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "SCIPOL_DATABASE_URL": ""}
    env.pop("SCIPOL_DATABASE_URL")
    cmd = [sys.executable, "-m", "flows.cli", "demo", "--port", str(port)]
    env["PYTHONPATH"] = str(ROOT)
    first = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "run 1" in first.stdout and "run 2" in first.stdout
    db = tmp_path / "scipol.db"
    assert db.exists()
    url = f"sqlite:///{db}"
    before = _versions(url)
    assert max(before.values()) == 2 and sorted(before.values()).count(2) == 1

    second = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _versions(url) == before
