"""`reprocess`: stored captures re-read with the current rules; a `reextracted` version only where the
text changes, and a second reprocess adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from crawlers.extract import EXTRACTOR_VERSION
from schemas import ArticleRecord, Capture
from schemas.capture import sha256_hex
from storage.archive import Archive

ROOT = Path(__file__).resolve().parents[2]


def _seed_body() -> bytes:
    local = ROOT / "flows" / "demo" / "site" / "seed" / "plain.html"
    return local.read_bytes()


def test_reprocess_adds_a_reextracted_version_only_where_the_current_rules_change_the_text(db_url: str) -> None:
    from flows.runs import run_reprocess

    body = _seed_body()
    url = "https://hitech.example/seed.html"
    capture = Capture(source_id="hitech", url=url, final_url=url, status=200, kind="page",
                      headers={"content-type": "text/html; charset=utf-8"}, body=body, sha256=sha256_hex(body),
                      fetched_at=datetime(2026, 1, 5, tzinfo=UTC))
    # What an older rule set kept: the editor line and the END marker were still in the text.
    old = ArticleRecord(source_id="hitech", url=url, canonical_url=url,
                        title="Shenzhen High -tech Zone builds national strategic technology forces",
                        text="Enterprises are the main body of market competition.\nEdit: Chen Nan\n- END -",
                        extractor_version="2025.0-old", capture_sha256=capture.sha256)
    archive = Archive.open(db_url)
    assert archive.store([(capture, old)]) == ["new"]

    first = run_reprocess([], archive)
    second = run_reprocess([], archive)

    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "select v.version_no, v.reason, v.extractor_version, v.text from article_versions v "
            "order by v.version_no")).all()
    engine.dispose()
    assert [(r[0], r[1]) for r in rows] == [(1, "new"), (2, "reextracted")]
    assert rows[1][2] == EXTRACTOR_VERSION
    assert "Edit: Chen Nan" not in rows[1][3] and rows[1][3].endswith("high -quality development.")
    assert first.totals().new_versions == 1
    assert second.totals().new_versions == 0
