"""The archive's behaviour on SQLite and PostgreSQL: versions, duplicates, removals, revisits, reads."""

from __future__ import annotations

import hashlib
import sys
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

sys.path.insert(0, str(Path(__file__).parent))

from archive_scenarios import T0, Item, article_text, make_item  # noqa: E402

from schemas import FetchError, RunReport, SourceConfig, SourceRunStats  # noqa: E402
from schemas.capture import SpooledBody  # noqa: E402
from schemas.errors import SpooledBodyError  # noqa: E402
from storage import Archive, dedupe  # noqa: E402
from storage.errors import ReadOnlyArchiveError  # noqa: E402
from storage.precompute import precompute  # noqa: E402
from storage.versions import text_hash  # noqa: E402
from tests.support.postgres import empty_archive  # noqa: E402

URL = "https://ministry.example/notices/1.html"


@pytest.fixture(params=["sqlite", "postgresql"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Archive]:
    """An empty, migrated archive. PostgreSQL tests share one migrated database, emptied before each
    test (TRUNCATE is ~20x faster than creating and migrating a database)."""
    if request.param == "sqlite":
        arch = Archive.open(f"sqlite:///{tmp_path}/archive.db")
    else:
        arch = Archive.open(request.getfixturevalue("migrated_pg_url"))
        with arch.engine.begin() as conn:
            empty_archive(conn)
    yield arch
    arch.close()


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def versions(archive: Archive, url: str = URL) -> list[tuple[int, str, str]]:
    return [(v.version_no, v.reason, v.text) for v in archive.history(url)]


def scalar(archive: Archive, sql: str, **params: object) -> object:
    with archive.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_the_same_batch_stored_three_times_adds_its_versions_once(archive: Archive) -> None:
    batch = [make_item(f"https://ministry.example/notices/{n}.html", article_text(n, v), at(h))
             for n in range(3) for h, v in enumerate("AB")]
    first = archive.store(batch)
    again = [archive.store(batch) for _ in range(2)]
    assert first == ["new", "edited"] * 3
    assert again == [first, first]  # a replay reports what the first store did
    counts = archive.counts()
    assert counts["article_versions"] == 6
    assert counts["captures"] == 6
    assert counts["store_outcomes"] == 6


def test_versions_follow_real_changes_of_the_latest_text_only(archive: Archive) -> None:
    a, b = article_text(1, "A"), article_text(1, "B")
    a_ws = "  " + a.replace(" ", " \n\t ") + "\n"
    sequence = [a, a, a_ws, b, a, None, b]
    outcomes = [archive.store([make_item(URL, t, at(i))])[0] for i, t in enumerate(sequence)]
    assert outcomes == ["new", "unchanged", "unchanged", "edited", "edited", "no_text", "edited"]
    # Version iff the normalised text differs from the latest version: A, B, A, B.
    assert versions(archive) == [(1, "new", a), (2, "edited", b), (3, "edited", a), (4, "edited", b)]
    # The empty fetch left A as the latest until B came back.
    snapshot = archive.as_of(at(5.5))
    assert [(s.version_no, s.text) for s in snapshot] == [(3, a)]


def test_a_changed_title_is_a_new_version_and_markup_or_width_changes_are_not(archive: Archive) -> None:
    body = article_text(2, "A")
    archive.store([make_item(URL, body, at(0), title="Call for proposals")])
    assert archive.store([make_item(URL, body.replace("30", "\uff13\uff10"), at(1), title="Call for  proposals")]) \
        == ["unchanged"]  # full-width digits and doubled spaces normalise away
    assert archive.store([make_item(URL, body.replace("deadline", "<b>deadline</b>"), at(2),
                                    title="Call for proposals")]) == ["unchanged"]
    assert archive.store([make_item(URL, body, at(3), title="Call for proposals (extended)")]) == ["edited"]
    assert [v[:2] for v in versions(archive)] == [(1, "new"), (2, "edited")]


def test_diff_summary_counts_added_and_removed_characters(archive: Archive) -> None:
    archive.store([make_item(URL, "First paragraph.\nSecond paragraph.", at(0))])
    archive.store([make_item(URL, "First paragraph.\nSecond paragraph, amended.\nThird.", at(1))])
    archive.store([make_item(URL, "First paragraph.\nSecond paragraph, amended.", at(2))])
    with archive.engine.connect() as conn:
        rows = conn.execute(text("SELECT version_no, chars_added, chars_removed FROM article_history "
                                 "ORDER BY version_no")).all()
    assert [tuple(r) for r in rows] == [(1, 34, 0), (2, 16, 0), (3, 0, 6)]


def test_an_exact_duplicate_at_a_second_url_points_to_the_first_seen_article(archive: Archive) -> None:
    body = article_text(3, "A")
    first = "https://ministry.example/notices/3.html"
    second = "https://news.example/reprint/3"
    assert archive.store([make_item(first, body, at(0))]) == ["new"]
    assert archive.store([make_item(second, "\n" + body + "  ", at(1), title="Reprint")]) == ["duplicate"]
    original, copy = archive.latest(first), archive.latest(second)
    assert original is not None and copy is not None
    assert copy.duplicate_of == original.article_id and original.duplicate_of is None
    assert copy.cluster_id is not None and copy.cluster_id == original.cluster_id


NOTICE_ZH = ("关于组织申报2026年度国家自然科学基金项目的通知。各有关单位：根据国家自然科学基金委员会的统一部署，"
             "现将2026年度项目申报工作有关事项通知如下。一、申报对象为具有高级专业技术职务的科研人员。"
             "二、申报材料须经单位审核后统一报送。三、申报截止时间为2026年3月20日16时。联系人：科研处王老师。")


def test_near_duplicates_share_a_cluster_and_distinct_articles_do_not(archive: Archive) -> None:
    en = article_text(4, "A") + " Proposals must follow the programme guide and the budget template."
    en_moved = en.replace("30 April 2026", "14 May 2026")
    other = ("The space agency selected three lunar payloads for its next lander mission, with launches "
             "planned from 2028 and instruments from universities in four countries.")
    outcomes = archive.store([
        make_item("https://ministry.example/calls/4", en, at(0)),
        make_item("https://ministry.example/calls/4-update", en_moved, at(1), title="Deadline extended"),
        make_item("https://gov.example.cn/tz/1", NOTICE_ZH, at(2), title="关于组织申报的通知"),
        make_item("https://gov.example.cn/tz/1-repost", NOTICE_ZH.replace("3月20日", "3月27日"), at(3),
                  title="【转发】国家自然科学基金申报工作安排"),
        make_item("https://agency.example/lunar", other, at(4)),
    ])
    assert outcomes == ["new"] * 5  # none is an exact duplicate
    c = {u: archive.latest(u).cluster_id for u in (  # type: ignore[union-attr]
        "https://ministry.example/calls/4", "https://ministry.example/calls/4-update",
        "https://gov.example.cn/tz/1", "https://gov.example.cn/tz/1-repost", "https://agency.example/lunar")}
    assert c["https://ministry.example/calls/4"] is not None
    assert c["https://ministry.example/calls/4"] == c["https://ministry.example/calls/4-update"]
    assert c["https://gov.example.cn/tz/1"] is not None
    assert c["https://gov.example.cn/tz/1"] == c["https://gov.example.cn/tz/1-repost"]
    assert c["https://gov.example.cn/tz/1"] != c["https://ministry.example/calls/4"]
    assert c["https://agency.example/lunar"] is None
    assert scalar(archive, "SELECT COUNT(*) FROM minhash_bands") == 5 * 16


def _near_duplicate_scenario() -> list[Item]:
    """Families of reworded notices (each a near duplicate of the others), unrelated notices, and
    articles that get a new version which moves them away from their family or into another."""
    items: list[Item] = []
    hours = iter(range(1000))
    for family in range(4):
        base = article_text(10 + family, "A") + f" Panel {family} meets in room {family * 11}; see the guide."
        for copy in range(3):
            text = base.replace("30 April", f"{copy + 1} May") if copy else base
            items.append(make_item(f"https://ministry.example/f{family}/{copy}", text, at(next(hours))))
    for lone in range(3):
        items.append(make_item(f"https://agency.example/lone/{lone}",
                               f"Agency {lone} selected {lone + 3} payloads for mission {lone * 13}, with launches "
                               f"from {2028 + lone} and instruments from {lone + 4} countries.", at(next(hours))))
    # New versions: f0/1 becomes a copy of family 1; f2/0 becomes unrelated text; lone/0 joins family 3.
    items.append(make_item("https://ministry.example/f0/1", items[4][1].text.replace("1 May", "9 May"),  # type: ignore[union-attr]
                           at(next(hours))))
    items.append(make_item("https://ministry.example/f2/0", "A wholly different notice about ocean research "
                           "vessels and their crews, refits, schedules and berths in three ports this winter.",
                           at(next(hours))))
    items.append(make_item("https://agency.example/lone/0", items[10][1].text.replace("1 May", "7 May"),  # type: ignore[union-attr]
                           at(next(hours))))
    return items


def _clusters(archive: Archive) -> tuple[list[frozenset[str]], dict[str, int | None]]:
    """The partition of URLs into clusters (ids aside) and each URL's duplicate_of."""
    by_cluster: dict[int, set[str]] = {}
    duplicate_of: dict[str, int | None] = {}
    with archive.engine.connect() as conn:
        for url, cluster, dup in conn.execute(text("SELECT url, cluster_id, duplicate_of FROM latest_articles")):
            duplicate_of[url] = dup
            if cluster is not None:
                by_cluster.setdefault(cluster, set()).add(url)
    return sorted(map(frozenset, by_cluster.values()), key=sorted), duplicate_of


def test_near_duplicate_clusters_are_the_same_stored_one_by_one_in_one_chunk_or_with_savepoints(
        archive: Archive, tmp_path: Path) -> None:
    items = _near_duplicate_scenario()
    # In one chunk: later items find earlier ones among the chunk's own signatures, kept in memory.
    archive.store(items)
    together = _clusters(archive)
    # One item per call: every candidate comes from the database.
    with Archive.open(f"sqlite:///{tmp_path}/one-by-one.db") as one_by_one:
        for item in items:
            one_by_one.store([item])
        assert _clusters(one_by_one) == together
    # A bad item makes the chunk go again with a savepoint per item: each item writes and queries itself.
    capture, _ = make_item("https://ministry.example/bad", None, at(0.5))
    with Archive.open(f"sqlite:///{tmp_path}/savepoints.db") as isolated:
        assert isolated.store([items[0], (capture.model_copy(update={"kind": "bogus"}), None), *items[1:]])[1] \
            == "error"
        assert _clusters(isolated) == together
    # Clusters are kept once given: f0/1 and f2/0 stay where they were; lone/0 had none and joins family 3.
    family = [frozenset(f"https://ministry.example/f{f}/{c}" for c in range(3)) for f in range(4)]
    assert together[0] == sorted([family[3] | {"https://agency.example/lone/0"}, family[0], family[1], family[2]],
                                 key=sorted)


def test_a_404_marks_the_article_removed_and_a_return_is_a_reappeared_version(archive: Archive) -> None:
    a = article_text(5, "A")
    archive.store([make_item(URL, a, at(0))])
    assert archive.store([make_item(URL, None, at(1), kind="gone", status=404, body=b"not found")]) == ["removed"]
    gone = archive.latest(URL)
    assert gone is not None and gone.removed_at == at(1) and gone.text == a  # last text still readable
    assert archive.due_revisits("scenario_src", at(500), [1, 24], 10) == []  # removed pages are not revisited
    assert archive.store([make_item(URL, a, at(2))]) == ["reappeared"]
    back = archive.latest(URL)
    assert back is not None and back.removed_at is None and back.version_no == 2
    assert versions(archive)[-1][:2] == (2, "reappeared")
    # A 404 older than the latest sighting arrives late: it must not remove the page.
    assert archive.store([make_item(URL, None, at(1.5), kind="gone", status=410)]) == ["removed"]
    assert archive.latest(URL).removed_at is None  # type: ignore[union-attr]


def test_304_non_html_and_textless_pages_record_captures_but_no_versions(archive: Archive) -> None:
    archive.store([make_item(URL, article_text(6, "A"), at(0), headers={"etag": '"v1"'})])
    outcomes = archive.store([
        make_item(URL, None, at(5), kind="not_modified", status=304, headers={"etag": '"v1"'}),
        make_item("https://ministry.example/files/budget.pdf", None, at(6), kind="non_html",
                  body=b"%PDF-1.7 fake", headers={"content-type": "application/pdf"}),
        make_item(URL, None, at(7)),                      # page without a record
        make_item(URL, "   \n\u200b ", at(8)),           # a record with only whitespace
    ])
    assert outcomes == ["not_modified", "non_html", "no_text", "no_text"]
    assert archive.counts()["article_versions"] == 1
    assert archive.counts()["captures"] == 5
    assert scalar(archive, "SELECT last_seen_at FROM latest_articles") is not None
    latest = archive.latest(URL)
    assert latest is not None and latest.version_no == 1
    assert scalar(archive, "SELECT COUNT(*) FROM articles WHERE last_fetched_at > first_seen_at") == 1


def test_known_urls_carry_the_validators_of_the_latest_page_capture(archive: Archive) -> None:
    other = "https://ministry.example/notices/2.html"
    archive.store([
        make_item(URL, article_text(1, "A"), at(0), headers={"etag": '"a1"', "last-modified": "Sun, 01 Mar 2026"}),
        make_item(URL, None, at(3), kind="not_modified", status=304),
        make_item(other, article_text(2, "A"), at(1), headers={"etag": '"b1"'}),
        make_item(other, None, at(4), kind="gone", status=404),
    ])
    third, fourth = "https://ministry.example/notices/3.html", "https://ministry.example/notices/4.html"
    archive.store([  # two page captures: the later one's validators; only a non-page capture: none
        make_item(third, article_text(3, "A"), at(5), headers={"etag": '"c1"'}),
        make_item(third, article_text(3, "B"), at(7), headers={"etag": '"c2"', "last-modified": "Mon, 02 Mar 2026"}),
        make_item(third, None, at(6), kind="not_modified", status=304, headers={"etag": '"c0"'}),
        make_item(fourth, None, at(2), kind="non_html", headers={"etag": '"d1"'}),
    ])
    known = {k.url: k for k in archive.known_urls("scenario_src")}
    assert set(known) == {URL, other, third, fourth}
    assert (known[URL].etag, known[URL].last_modified, known[URL].last_fetched_at) == \
        ('"a1"', "Sun, 01 Mar 2026", at(3))
    assert known[other].etag is None and known[other].last_fetched_at == at(4)
    assert (known[third].etag, known[third].last_modified, known[third].last_fetched_at) == \
        ('"c2"', "Mon, 02 Mar 2026", at(7))
    assert (known[fourth].etag, known[fourth].last_modified, known[fourth].gone) == (None, None, False)
    assert list(archive.known_urls("no_such_source")) == []


def test_due_revisits_follow_the_schedule_from_first_sight(archive: Archive) -> None:
    fresh, week_old, fetched = (f"https://ministry.example/r/{n}" for n in range(3))
    archive.store([make_item(fresh, article_text(10, "A"), at(100)),
                   make_item(week_old, article_text(11, "A"), at(0)),
                   make_item(fetched, article_text(12, "A"), at(0)),
                   make_item(fetched, None, at(90), kind="not_modified", status=304)])
    schedule = [1, 6, 24, 72, 168]
    # At hour 100.5: `fresh` has no point due yet; `week_old` missed its 72 h point; `fetched` was
    # fetched at 90 h, after its 72 h point, and its 168 h point is still ahead.
    assert archive.due_revisits("scenario_src", at(100.5), schedule, 10) == [week_old]
    assert archive.due_revisits("scenario_src", at(101.5), schedule, 10) == [week_old, fresh]
    assert archive.due_revisits("scenario_src", at(200), schedule, 1) == [week_old]  # least recently fetched
    assert set(archive.due_revisits("scenario_src", at(200), schedule, 10)) == {fresh, week_old, fetched}
    assert archive.due_revisits("scenario_src", at(10_000), [], 10) == []


def test_runs_and_fetch_errors_are_recorded_once(archive: Archive) -> None:
    report = RunReport(run_id="run-1", started_at=at(0), sources=[SourceRunStats(source_id="scenario_src")])
    archive.start_run(report)
    report.status, report.finished_at = "completed", at(1)
    report.sources[0].new_articles = 3
    archive.finish_run(report)
    archive.start_run(RunReport(run_id="run-2", started_at=at(2)))
    runs = archive.recent_runs(5)
    assert [r.run_id for r in runs] == ["run-2", "run-1"]
    assert runs[1].status == "completed" and runs[1].sources[0].new_articles == 3
    errors = [FetchError(source_id="scenario_src", url=URL, reason="timeout", at=at(0), message="read timed out"),
              FetchError(source_id="other_src", url=URL, reason="http_status", status=503, at=at(0))]
    archive.record_errors(errors, run_id="run-1")
    archive.record_errors(errors, run_id="run-1")
    assert archive.counts()["fetch_errors"] == 2
    assert scalar(archive, "SELECT COUNT(*) FROM sources") == 2  # unknown source created on the fly


def test_sync_sources_inserts_and_updates(archive: Archive) -> None:
    src = SourceConfig(id="nsfc", name="NSFC", feeds=["https://nsfc.example/rss.xml"])
    archive.sync_sources([src])
    archive.sync_sources([src.model_copy(update={"name": "NSFC notices"})])
    assert scalar(archive, "SELECT name FROM sources WHERE id = 'nsfc'") == "NSFC notices"
    assert archive.counts()["sources"] == 1


def test_bodies_are_stored_once_and_verify_and_reprocess_read_them_back(archive: Archive) -> None:
    a = article_text(7, "A")
    archive.store([make_item(URL, a, at(0)), make_item(URL, a, at(1)),  # same bytes twice
                   make_item(URL, article_text(7, "B"), at(2))])
    assert archive.counts()["capture_bodies"] == 2
    assert list(archive.verify_captures()) == []
    captures = list(archive.captures_for_reprocess("scenario_src"))
    assert len(captures) == 1 and captures[0].fetched_at == at(2)
    assert b"15 May 2026" in (captures[0].body or b"")
    # Corrupt one stored body: verification names it.
    with archive.engine.begin() as conn:
        sha = conn.execute(text("SELECT sha256 FROM capture_bodies ORDER BY sha256 LIMIT 1")).scalar()
        conn.execute(text("UPDATE capture_bodies SET body = :b WHERE sha256 = :s"),
                     {"b": zlib.compress(b"tampered"), "s": sha})
    problems = list(archive.verify_captures())
    assert [p[0] for p in problems] == [sha] and "hash mismatch" in problems[0][1]


def test_reextraction_of_the_same_capture_is_a_reextracted_version_once(archive: Archive) -> None:
    cap, rec = make_item(URL, "Old extraction. Share this page on social media.", at(0))
    archive.store([(cap, rec)])
    (again,) = list(archive.captures_for_reprocess())
    assert again.body == cap.body
    better = rec.model_copy(update={"text": "Old extraction.", "extractor_version": "test-2"})  # type: ignore[union-attr]
    for _ in range(2):
        assert archive.store([(again, better)]) == ["reextracted"]
    assert [v[:2] for v in versions(archive)] == [(1, "new"), (2, "reextracted")]


def test_search_finds_chinese_and_english_words(archive: Archive) -> None:
    archive.store([
        make_item("https://gov.example.cn/tz/1", NOTICE_ZH, at(0), title="关于组织申报国家自然科学基金的通知"),
        make_item(URL, article_text(8, "A"), at(1), title="Quantum computing grants"),
    ])
    assert [s.url for s in archive.search("自然科学基金")] == ["https://gov.example.cn/tz/1"]
    assert [s.url for s in archive.search("申报")] == ["https://gov.example.cn/tz/1"]  # two characters
    assert [s.url for s in archive.search("quantum")] == [URL]  # case-insensitive, title
    assert [s.url for s in archive.search("ministry deadline")] == [URL]
    assert archive.search('funding" OR "x') == []  # quotes are data, not query syntax
    # The index follows the latest version.
    archive.store([make_item(URL, article_text(8, "C"), at(2), title="Results pending")])
    assert archive.search("deadline") == [] and [s.url for s in archive.search("closed")] == [URL]


def test_search_rows_written_once_per_chunk_hold_each_articles_last_text(archive: Archive) -> None:
    # One chunk: URL new then edited twice (its row is written once, with C), a second article new.
    other = "https://ministry.example/notices/77.html"
    outcomes = archive.store([
        make_item(URL, article_text(8, "A"), at(0), title="Quantum computing grants"),
        make_item(other, article_text(77, "A"), at(0.5), title="Other notice"),
        make_item(URL, article_text(8, "B"), at(1), title="Quantum computing grants"),
        make_item(URL, article_text(8, "C"), at(2), title="Results pending"),
    ])
    assert outcomes == ["new", "new", "edited", "edited"]
    assert [s.url for s in archive.search("closed")] == [URL]
    assert [s.url for s in archive.search("deadline")] == [other]
    assert [s.url for s in archive.search("Other notice")] == [other]
    assert scalar(archive, "SELECT COUNT(*) FROM article_search") == 2
    # A later chunk replaces a row written by an earlier transaction, and a chunk stored again with a
    # savepoint per item (one bad item) still writes the search rows of the good ones.
    capture, _ = make_item("https://ministry.example/notices/bad.html", None, at(3))
    bad = (capture.model_copy(update={"kind": "bogus"}), None)  # the kind CHECK constraint refuses it
    outcomes = archive.store([make_item(URL, article_text(8, "A"), at(4), title="Reopened"), bad])
    assert outcomes == ["edited", "error"]
    assert [s.url for s in archive.search("Reopened")] == [URL]
    assert [s.url for s in archive.search("closed")] == []
    assert scalar(archive, "SELECT COUNT(*) FROM article_search") == 2


def test_as_of_shows_the_version_current_at_that_time(archive: Archive) -> None:
    a, b = article_text(9, "A"), article_text(9, "B")
    archive.store([make_item(URL, a, at(0)), make_item(URL, b, at(10))])
    assert archive.as_of(at(-1)) == []
    assert [s.text for s in archive.as_of(at(5))] == [a]
    assert [s.text for s in archive.as_of(at(10))] == [b]
    with archive.engine.connect() as conn:  # the documented SQL pattern, straight on the view
        rows = conn.execute(text("SELECT version_no FROM article_timeline WHERE valid_to IS NULL")).all()
    assert [r[0] for r in rows] == [2]


def test_views_expose_the_documented_columns_with_values(archive: Archive) -> None:
    archive.store([make_item(URL, article_text(1, "A"), at(0))])
    with archive.engine.connect() as conn:
        latest = conn.execute(text("SELECT article_id, source_id, url, title, text, language, published_at, "
                                   "version_no, first_seen_at, last_seen_at, removed_at, duplicate_of, "
                                   "cluster_id FROM latest_articles")).mappings().one()
        history = conn.execute(text("SELECT article_id, url, version_no, reason, title, text, captured_at, "
                                    "chars_added, chars_removed FROM article_history")).mappings().one()
    assert latest["url"] == URL and latest["version_no"] == 1 and latest["language"] == "en"
    assert history["reason"] == "new" and history["captured_at"] is not None


def test_readonly_archive_reads_and_refuses_writes(archive: Archive) -> None:
    archive.store([make_item(URL, article_text(1, "A"), at(0))])
    reader = Archive.open(archive.engine.url.render_as_string(hide_password=False), readonly=True)
    try:
        assert reader.latest(URL) is not None
        with pytest.raises(ReadOnlyArchiveError):
            reader.store([make_item(URL, article_text(1, "B"), at(1))])
        with pytest.raises(Exception, match="(?i)read.only|readonly"):
            with reader.engine.begin() as conn:
                conn.execute(text("DELETE FROM article_versions"))
    finally:
        reader.close()
    assert archive.counts()["article_versions"] == 1


def test_dates_and_timestamps_round_trip_as_utc(archive: Archive) -> None:
    cap, rec = make_item(URL, article_text(1, "A"), datetime(2026, 3, 1, 17, 0, tzinfo=UTC))
    rec = rec.model_copy(update={"published": date(2026, 2, 28)})  # type: ignore[union-attr]
    archive.store([(cap, rec)])
    snap = archive.latest(URL)
    assert snap is not None and snap.published_at == date(2026, 2, 28)
    assert snap.captured_at == datetime(2026, 3, 1, 17, 0, tzinfo=UTC) and snap.captured_at.tzinfo is not None


def test_nul_characters_from_bad_html_are_dropped_not_fatal(archive: Archive) -> None:
    cap, rec = make_item(URL, "Broken\x00 page text with a NUL byte in it.", at(0), title="Bad\x00 title",
                         headers={"content-type": "text/html", "x-odd": "a\x00b"}, body=b"<p>Broken\x00</p>")
    assert archive.store([(cap, rec)]) == ["new"]
    snap = archive.latest(URL)
    assert snap is not None and snap.text == "Broken page text with a NUL byte in it." and snap.title == "Bad title"
    assert list(archive.verify_captures()) == []  # the raw body keeps its bytes, NUL included
    assert archive.store([(cap, rec)]) == ["new"]  # and the replay still finds its outcome


# -- batches: one transaction per chunk ---------------------------------------------------------


def test_a_bad_item_in_a_batch_gives_error_for_it_alone_and_the_rest_are_stored(archive: Archive) -> None:
    other = "https://ministry.example/notices/2.html"
    capture, _ = make_item(URL, None, at(0.5), body=b"<html>bytes of the bad capture</html>")
    # A value the database refuses (the kind CHECK constraint); model_copy does not validate.
    bad = (capture.model_copy(update={"kind": "bogus"}), None)
    batch = [make_item(URL, article_text(1, "A"), at(0)), bad, make_item(other, article_text(2, "A"), at(0)),
             make_item(URL, article_text(1, "B"), at(1))]
    assert archive.store(batch) == ["new", "error", "new", "edited"]
    counts = archive.counts()
    assert (counts["captures"], counts["store_outcomes"], counts["article_versions"]) == (3, 3, 3)
    # The bad item's body was written before its capture failed: its savepoint took it back.
    assert counts["capture_bodies"] == 3
    assert versions(archive) == [(1, "new", article_text(1, "A")), (2, "edited", article_text(1, "B"))]
    # Stored again: the good items replay their outcomes, the bad one fails again, nothing is added.
    assert archive.store(batch) == ["new", "error", "new", "edited"]
    assert archive.counts() == counts


def test_values_precomputed_by_a_worker_are_stored_and_ones_for_another_record_are_ignored(
        archive: Archive, caplog: pytest.LogCaptureFixture) -> None:
    other = "https://ministry.example/notices/2.html"
    first = make_item(URL, article_text(1, "A"), at(0))
    second = make_item(other, article_text(2, "A"), at(0))
    # The first item's body comes packed at another level: what is stored shows the given values are used.
    assert first[0].body is not None
    own = replace(precompute(*first), packed_body=zlib.compress(first[0].body, 1))
    # The second item is handed the first one's values (a misaligned caller): they must not be stored for it.
    assert archive.store([first, second], precomputed=[own, own]) == ["new", "new"]
    assert "not for its record" in caplog.text
    assert bytes(scalar(archive, "SELECT body FROM capture_bodies WHERE sha256 = :s",  # type: ignore[arg-type]
                        s=own.body_sha256)) == own.packed_body
    for capture, record in (first, second):
        assert record is not None and capture.body is not None
        article_id = scalar(archive, "SELECT id FROM articles WHERE canonical_url = :u", u=capture.url)
        assert scalar(archive, "SELECT latest_text_hash FROM articles WHERE id = :a", a=article_id) == \
            text_hash(record.text)
        signature = dedupe.signature(record.text)
        assert signature is not None
        assert bytes(scalar(archive, "SELECT signature FROM minhash_signatures WHERE article_id = :a",  # type: ignore[arg-type]
                            a=article_id)) == signature.to_bytes()
        sha = hashlib.sha256(capture.body).hexdigest()
        assert scalar(archive, "SELECT sha256 FROM captures WHERE url = :u", u=capture.url) == sha
        packed = scalar(archive, "SELECT body FROM capture_bodies WHERE sha256 = :s", s=sha)
        assert zlib.decompress(bytes(packed)) == capture.body  # type: ignore[arg-type]
    assert list(archive.verify_captures()) == []


def test_a_body_left_in_the_spool_is_stored_from_the_workers_values_or_read_when_there_are_none(
        archive: Archive, tmp_path: Path) -> None:
    """The ingest hands the archive pages whose bodies it never read (`Capture.spooled_body`): the worker's
    hash, size and compressed body are stored; without them the archive reads the body itself."""
    other = "https://ministry.example/notices/2.html"
    items = [make_item(URL, article_text(1, "A"), at(0)), make_item(other, article_text(2, "A"), at(0))]
    bodies = tmp_path / "bodies.bin"
    bodies.write_bytes(b"".join(c.body or b"" for c, _ in items))
    spooled, offset = [], 0
    for capture, record in items:
        assert capture.body is not None
        sha = hashlib.sha256(capture.body).hexdigest()
        ref = SpooledBody(path=str(bodies), offset=offset, length=len(capture.body), sha256=sha)
        offset += len(capture.body)
        spooled.append((capture.model_copy(update={"body": None, "sha256": sha, "spooled_body": ref}), record))
    # The first as the worker sends it back (read from the spool, then precomputed); the second with nothing.
    worker_side = precompute(spooled[0][0].with_body(), spooled[0][1], body_sha256=spooled[0][0].sha256)
    assert worker_side.body_size == len(items[0][0].body or b"")
    assert archive.store(spooled, precomputed=[worker_side, None]) == ["new", "new"]
    for capture, _record in items:
        assert capture.body is not None
        sha = hashlib.sha256(capture.body).hexdigest()
        assert scalar(archive, "SELECT sha256 FROM captures WHERE url = :u", u=capture.url) == sha
        packed = bytes(scalar(archive, "SELECT body FROM capture_bodies WHERE sha256 = :s", s=sha))  # type: ignore[arg-type]
        assert zlib.decompress(packed) == capture.body
        assert scalar(archive, "SELECT size FROM capture_bodies WHERE sha256 = :s", s=sha) == len(capture.body)
        assert scalar(archive, "SELECT compressed_size FROM capture_bodies WHERE sha256 = :s", s=sha) == len(packed)
    assert list(archive.verify_captures()) == []
    # A spooled body that changed since the crawl wrote it is not stored under the old hash.
    third = make_item("https://ministry.example/notices/3.html", article_text(3, "A"), at(0))
    assert third[0].body is not None
    bodies.write_bytes(b"X" * len(third[0].body))
    ref = SpooledBody(path=str(bodies), offset=0, length=len(third[0].body),
                      sha256=hashlib.sha256(third[0].body).hexdigest())
    with pytest.raises(SpooledBodyError, match="does not hash"):
        archive.store([(third[0].model_copy(update={"body": None, "spooled_body": ref}), third[1])])
    assert scalar(archive, "SELECT COUNT(*) FROM captures WHERE url = :u", u=third[0].url) == 0


def _install_crash(archive: Archive, url_part: str) -> None:
    """Make the database fail like a server going away while inserting a capture of `url_part`."""
    with archive.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            # json() of a malformed document is a run-time SQLITE_ERROR: an OperationalError.
            conn.execute(text(f"CREATE TRIGGER crash_test BEFORE INSERT ON captures WHEN NEW.url LIKE "
                              f"'%{url_part}%' BEGIN SELECT json('simulated crash {{'); END"))
        else:
            conn.execute(text(f"""CREATE FUNCTION crash_test() RETURNS trigger AS $$ BEGIN
                IF NEW.url LIKE '%{url_part}%' THEN
                    RAISE EXCEPTION 'simulated crash' USING ERRCODE = '57P01';  -- admin_shutdown
                END IF; RETURN NEW; END $$ LANGUAGE plpgsql"""))
            conn.execute(text("CREATE TRIGGER crash_test BEFORE INSERT ON captures FOR EACH ROW "
                              "EXECUTE FUNCTION crash_test()"))


def _remove_crash(archive: Archive) -> None:
    with archive.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS crash_test" + (" ON captures" if conn.dialect.name != "sqlite"
                                                                  else "")))
        if conn.dialect.name != "sqlite":
            conn.execute(text("DROP FUNCTION IF EXISTS crash_test()"))


def test_a_batch_replayed_after_a_crash_between_chunks_adds_nothing_twice(archive: Archive) -> None:
    archive.store_chunk = 3
    urls = [f"https://ministry.example/notices/n{n}.html" for n in range(4)]
    crash = make_item("https://ministry.example/z-crash.html", None, at(2), kind="not_modified", status=304)
    # Chunks: n3 A, n2 A, n1 A | n0 A, n3 B, n2 B | n1 B, n0 B, crash.
    batch = [*(make_item(urls[n], article_text(n, "A"), at(0)) for n in (3, 2, 1, 0)),
             *(make_item(urls[n], article_text(n, "B"), at(1)) for n in (3, 2, 1, 0)), crash]
    _install_crash(archive, "z-crash")
    try:
        with pytest.raises(OperationalError):
            archive.store(batch)
        counts = archive.counts()
        # The first two chunks were committed (n3 and n2 span them); the third was rolled back whole.
        assert (counts["captures"], counts["store_outcomes"], counts["article_versions"]) == (6, 6, 6)
        assert [len(versions(archive, url)) for url in urls] == [1, 1, 2, 2]
    finally:
        _remove_crash(archive)
    expected = ["new", "new", "new", "new", "edited", "edited", "edited", "edited", "not_modified"]
    assert archive.store(batch) == expected
    counts = archive.counts()
    assert (counts["captures"], counts["store_outcomes"], counts["article_versions"]) == (9, 9, 8)
    assert archive.store(batch) == expected
    assert archive.counts() == counts
    for n, url in enumerate(urls):
        assert versions(archive, url) == [(1, "new", article_text(n, "A")), (2, "edited", article_text(n, "B"))]


def test_a_batch_is_stored_in_input_order_with_outcomes_in_input_order(archive: Archive) -> None:
    """Several items of one article in a batch, reached by URL or alias, interleaved with others: each
    sees what the ones before it did (PostgreSQL locks the stored ones up front, in id order)."""
    site = "https://agency.example/"
    archive.store([make_item(site + "z", article_text(1, "A"), at(0)),
                   make_item(site + "m?utm_source=feed", article_text(2, "A"), at(0), canonical_url=site + "m")])
    outcomes = archive.store([
        make_item(site + "z", None, at(2), kind="not_modified", status=304),
        make_item(site + "a", article_text(3, "A"), at(1)),
        # Known only by its alias: removes the article `m`, so the next sighting is its return.
        make_item(site + "m?utm_source=feed", None, at(3), kind="gone", status=404),
        make_item(site + "z", article_text(1, "B"), at(3)),
        make_item(site + "b.pdf", None, at(1), kind="non_html", body=b"%PDF-1.7 x",
                  headers={"content-type": "application/pdf"}),
        make_item(site + "m", article_text(2, "A"), at(4)),
    ])
    assert outcomes == ["not_modified", "new", "removed", "edited", "non_html", "reappeared"]
    assert [v[:2] for v in versions(archive, site + "z")] == [(1, "new"), (2, "edited")]
    assert [v[:2] for v in versions(archive, site + "m")] == [(1, "new"), (2, "reappeared")]
    # Articles are created in input order (ids: z, m, then a).
    assert scalar(archive, "SELECT id FROM articles WHERE canonical_url = :u", u=site + "a") == 3
