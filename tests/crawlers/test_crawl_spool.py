"""The spool between crawl subprocess and flow: bodies before records, partial lines invisible."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawlers.errors import CrawlSetupError, SpoolError
from crawlers.runner import start_crawl
from crawlers.spool import BODIES_FILE, RECORDS_FILE, SpoolReader, SpoolWriter, read_spool
from schemas.capture import Capture, FetchError, sha256_hex
from schemas.errors import SpooledBodyError
from tests.crawlers.crawl_sites import source

NOW = datetime(2025, 1, 2, tzinfo=UTC)


def _capture(body: bytes | None, url: str = "https://a.example/1") -> Capture:
    return Capture(
        source_id="s",
        url=url,
        final_url=url,
        status=200 if body is not None else 304,
        kind="page" if body is not None else "not_modified",
        body=body,
        sha256=sha256_hex(body) if body is not None else None,
        fetched_at=NOW,
        hint_title="T",
    )


def test_records_round_trip_with_their_bodies(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    records = [
        _capture(b"<p>one</p>"),
        _capture(None),
        FetchError(source_id="s", url="https://a.example/2", reason="timeout", at=NOW),
    ]
    for record in records:
        writer.write(record)
    writer.close()
    assert read_spool(tmp_path) == records
    assert (tmp_path / BODIES_FILE).read_bytes() == b"<p>one</p>"  # as received, once


def test_a_reader_sees_each_record_once_and_never_a_half_written_line(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    reader = SpoolReader(tmp_path)
    assert reader.read_new() == []
    writer.write(_capture(b"a"))
    line = json.dumps({"type": "capture", "record": {}, "body_sha256": None})
    with open(tmp_path / RECORDS_FILE, "a", encoding="utf-8") as fh:
        fh.write(line[:10])  # a crawl killed mid-write
    assert [r.body for r in reader.read_new()] == [b"a"]  # type: ignore[union-attr]
    assert reader.read_new() == []
    assert reader.has_partial_line


def test_a_body_that_does_not_match_its_hash_is_refused(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    writer.write(_capture(b"original"))
    writer.close()
    (tmp_path / BODIES_FILE).write_bytes(b"tampered")
    with pytest.raises(SpoolError, match="does not hash"):
        read_spool(tmp_path)
    (tmp_path / BODIES_FILE).write_bytes(b"orig")  # cut short: a crawl killed mid-write
    with pytest.raises(SpoolError, match="missing"):
        read_spool(tmp_path)


def test_a_reader_that_defers_page_bodies_names_where_they_are_and_reads_the_rest(tmp_path: Path) -> None:
    """The ingest's reader: a page's body stays in the spool for the extraction worker; other kinds keep theirs."""
    pdf = _capture(b"%PDF-1.4 report", url="https://a.example/report.pdf").model_copy(update={"kind": "non_html"})
    records = [_capture(b"<p>one</p>"), _capture(None), pdf, _capture(b"<p>two</p>", url="https://a.example/2")]
    writer = SpoolWriter(tmp_path)
    for record in records:
        writer.write(record)
    writer.close()
    got = SpoolReader(tmp_path, defer_page_bodies=True).read_new()
    assert [type(r) for r in got] == [Capture] * 4
    one, not_modified, report, two = got  # type: ignore[misc]
    assert one.body is None and one.spooled_body is not None and one.sha256 == sha256_hex(b"<p>one</p>")
    assert (one.spooled_body.offset, one.spooled_body.length) == (0, len(b"<p>one</p>"))
    assert two.spooled_body is not None and two.spooled_body.offset == len(b"<p>one</p>%PDF-1.4 report")
    assert not_modified.body is None and not_modified.spooled_body is None
    assert report.body == b"%PDF-1.4 report" and report.spooled_body is None
    # Read where needed, each is the capture an eager reader gives (and nothing spooled is serialised).
    assert [r.with_body() for r in got] == read_spool(tmp_path) == records
    assert "spooled_body" not in one.model_dump()
    # A spooled body is checked when it is read, as the eager reader checks it.
    (tmp_path / BODIES_FILE).write_bytes(b"<p>ONE</p>%PDF-1.4 report<p>two</p>")
    with pytest.raises(SpooledBodyError, match="does not hash"):
        one.with_body()
    (tmp_path / BODIES_FILE).write_bytes(b"<p>one</p>%PDF-1.4 report<p>t")  # cut short
    assert one.with_body().body == b"<p>one</p>"
    with pytest.raises(SpooledBodyError, match="missing"):
        two.with_body()
    (tmp_path / BODIES_FILE).unlink()
    with pytest.raises(SpooledBodyError, match="unreadable"):
        one.with_body()


def test_bodies_share_one_file_and_a_repeated_body_is_written_once(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    records = [_capture(b"<p>same</p>", url="https://a.example/1"), _capture(b"<p>other</p>", url="https://a.example/2"),
               _capture(b"<p>same</p>", url="https://a.example/3")]
    for record in records:
        writer.write(record)
    writer.close()
    assert (tmp_path / BODIES_FILE).read_bytes() == b"<p>same</p><p>other</p>"
    assert read_spool(tmp_path) == records
    # A second writer on the same spool (a crawl resumed into it) appends after what is there.
    writer = SpoolWriter(tmp_path)
    writer.write(_capture(b"<p>third</p>", url="https://a.example/4"))
    writer.close()
    assert [r.body for r in read_spool(tmp_path)] == [  # type: ignore[union-attr]
        b"<p>same</p>", b"<p>other</p>", b"<p>same</p>", b"<p>third</p>"]


def test_a_spool_dir_with_records_is_not_reused(tmp_path: Path) -> None:
    (tmp_path / RECORDS_FILE).write_text("")
    with pytest.raises(CrawlSetupError):
        start_crawl(source(feeds=["http://127.0.0.1:9/feed"]), tmp_path)


def test_a_limited_read_leaves_the_rest_on_disk_and_returns_it_next(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    records = [_capture(f"<p>{i}</p>".encode(), url=f"https://a.example/{i}") for i in range(7)]
    for record in records[:5]:
        writer.write(record)
    reader = SpoolReader(tmp_path)
    assert reader.read_new(limit=2) == records[:2]
    with open(tmp_path / RECORDS_FILE, "ab") as fh:  # a half-written line arrives meanwhile
        fh.write(b'{"type": "capt')
    assert reader.read_new(limit=2) == records[2:4]
    assert reader.read_new(limit=2) == records[4:5] and reader.has_partial_line
    assert reader.read_new(limit=2) == []
