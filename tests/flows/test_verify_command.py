from __future__ import annotations

import zlib
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from flows.cli import cli
from schemas import Capture
from schemas.capture import sha256_hex
from storage.archive import Archive


def _capture(url: str, body: bytes) -> Capture:
    return Capture(source_id="demo_news", url=url, final_url=url, status=200, kind="non_html",
                   headers={"content-type": "application/pdf"}, body=body, sha256=sha256_hex(body),
                   fetched_at=datetime(2026, 1, 2, tzinfo=UTC))


def test_verify_reports_a_body_that_no_longer_matches_its_hash(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a.db"
    archive = Archive.open(url)
    archive.store([(_capture("http://127.0.0.1/a.pdf", b"%PDF-1.7 one"), None),
                   (_capture("http://127.0.0.1/b.pdf", b"%PDF-1.7 two"), None)])
    archive.close()

    ok = CliRunner().invoke(cli, ["verify", "--db", url])
    assert ok.exit_code == 0, ok.output
    assert "checked 2 stored bodies: 0 problem(s)" in ok.output

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("update capture_bodies set body = :b where sha256 = :s"),
                     {"b": zlib.compress(b"%PDF-1.7 tampered"), "s": sha256_hex(b"%PDF-1.7 one")})
    engine.dispose()

    bad = CliRunner().invoke(cli, ["verify", "--db", url])
    assert bad.exit_code == 1
    assert sha256_hex(b"%PDF-1.7 one") in bad.output
    assert "1 problem(s)" in bad.output
