"""A site whose article is edited after publication: the revisit flow records the edit as a new version
at the next due revisit, and a removal as a removal; an unchanged article costs one conditional request.

Real pieces throughout: a local site on 127.0.0.1, the crawler subprocess, extraction, and the archive
on SQLite and PostgreSQL. Time moves by ageing the archive's article timestamps (see `age_archive`).
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from flows.pipeline import IngestOptions
from flows.runs import run_ingest, run_revisit
from schemas import RunReport, SourceConfig
from storage.archive import Archive
from storage.models import Article
from tests.support.httpserver import FaultServer, RecordedRequest, Reply

SCHEDULE = [1.0, 6.0, 24.0]
PATHS = {"stable": "/news/stable.html", "edited": "/news/edited.html", "removed": "/news/removed.html"}
LEAD = {
    "stable": "The ministry published its annual research budget on Monday, with basic research up 4%.",
    "edited": "The funding agency named 12 new centres of excellence, each funded for six years.",
    "removed": "A draft open-access mandate was circulated to universities for comment before June.",
}
MORE = ("Officials said the figures follow a consultation with universities and learned societies held "
        "over the winter, and that the details will be set out in guidance later this year.")


def page(title: str, lead: str) -> bytes:
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>{lead}</p><p>{MORE}</p></article></body></html>").encode()


class EditableSite:
    """Three articles behind a feed, with ETags; pages can be edited or deleted while it runs."""

    def __init__(self) -> None:
        self.srv = FaultServer()
        self.pages: dict[str, bytes | None] = {
            path: page(f"Story {name}", LEAD[name]) for name, path in PATHS.items()
        }
        self.served: list[tuple[str, int]] = []
        """(path, status) of every article response, in order."""
        self._lock = threading.Lock()
        items = "".join(f"<item><title>Story {n}</title><link>{self.srv.url(p)}</link></item>"
                        for n, p in PATHS.items())
        feed = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
                f"<link>{self.srv.base}/</link><description>d</description>{items}</channel></rss>")
        self.srv.route("/feed.xml",
                       Reply(body=feed.encode(), headers={"Content-Type": "application/rss+xml"}))
        for path in PATHS.values():
            self.srv.route(path, self._article)

    def _article(self, request: RecordedRequest) -> Reply:
        body = self.pages[request.path]
        if body is None:
            reply = Reply(status=404, body=b"gone", headers={"Content-Type": "text/plain"})
        else:
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if request.headers.get("If-None-Match") == etag:
                reply = Reply(status=304, headers={"ETag": etag})
            else:
                reply = Reply(body=body, headers={"Content-Type": "text/html; charset=utf-8", "ETag": etag})
        with self._lock:
            self.served.append((request.path, reply.status))
        return reply

    def source(self) -> SourceConfig:
        return SourceConfig(id="editable_site", name="Editable site", feeds=[self.srv.url("/feed.xml")],
                            allow_private_addresses=True, download_delay=0, revisit_hours=SCHEDULE)

    def url(self, name: str) -> str:
        return self.srv.url(PATHS[name])


def age_archive(db_url: str, hours: float) -> None:
    """Move every article's timestamps `hours` into the past, as if that much time had gone by.

    The revisit schedule is computed from these columns alone, and the crawler stamps each fetch with
    the real clock, so this is how a test reaches the next step of the schedule without waiting.
    """
    table = Article.__table__
    columns = ("first_seen_at", "last_seen_at", "last_fetched_at", "removed_at")
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            for row in conn.execute(sa.select(table.c.id, *(table.c[c] for c in columns))).mappings().all():
                values = {c: row[c] - timedelta(hours=hours) for c in columns if row[c] is not None}
                conn.execute(table.update().where(table.c.id == row["id"]).values(**values))
    finally:
        engine.dispose()


def query(db_url: str, sql: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.text(sql)).mappings().all()]
    finally:
        engine.dispose()


def last_first_seen(db_url: str) -> datetime:
    """The latest `first_seen_at` of the articles (read through the model's UTC column type)."""
    column = Article.__table__.c.first_seen_at
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            values = list(conn.execute(sa.select(column)).scalars())
    finally:
        engine.dispose()
    assert len(values) == 3 and all(v.tzinfo is not None for v in values)
    return max(values)


def only(report: RunReport) -> Any:
    assert len(report.sources) == 1, report
    return report.sources[0]


@pytest.fixture()
def site() -> Any:
    s = EditableSite()
    s.srv.start()
    try:
        yield s
    finally:
        s.srv.stop()


def test_revisits_record_an_edit_as_a_version_a_404_as_a_removal_and_cost_one_request_when_unchanged(
    db_url: str, site: EditableSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCIPOL_EXTRACT_WORKERS", "1")  # three pages: a process pool would only add start-up
    source = site.source()
    archive = Archive.open(db_url)
    try:
        first = run_ingest([source], archive, options=IngestOptions(timeout_s=120))
        assert only(first).new_articles == 3 and only(first).error_count == 0, first
        assert sorted(site.served) == sorted((p, 200) for p in PATHS.values())
        assert site.srv.hits("/feed.xml") == 1

        # Before the first step of the schedule nothing is due and nothing is fetched.
        first_seen = last_first_seen(db_url)
        requests_before = len(site.srv.requests)
        early = run_revisit([source], archive, now=first_seen + timedelta(minutes=30))
        assert only(early).status == "skipped" and only(early).pages_fetched == 0
        assert len(site.srv.requests) == requests_before

        # The site changes: one article edited, one deleted.
        site.pages[PATHS["edited"]] = page("Story edited", LEAD["edited"].replace("12 new", "14 new"))
        site.pages[PATHS["removed"]] = None

        # Two hours later: all three are due (first step, 1 h).
        age_archive(db_url, 2)
        first_seen = last_first_seen(db_url)
        site.served.clear()
        second = run_revisit([source], archive, now=first_seen + timedelta(hours=2))
        stats = only(second)
        assert (stats.not_modified, stats.new_versions, stats.removals) == (1, 1, 1), second
        assert sorted(site.served) == sorted([(PATHS["stable"], 304), (PATHS["edited"], 200),
                                              (PATHS["removed"], 404)])
        conditional = [r for r in site.srv.requests if r.path == PATHS["stable"]][-1]
        assert conditional.headers.get("If-None-Match")
        assert site.srv.hits("/feed.xml") == 1  # a revisit fetches known URLs only, no discovery

        history = {(r["url"], r["version_no"]): r["reason"]
                   for r in query(db_url, "select * from article_history")}
        assert history[(site.url("edited"), 2)] == "edited"
        assert sorted(n for (u, n) in history if u == site.url("edited")) == [1, 2]
        assert [n for (u, n) in history if u == site.url("stable")] == [1]
        assert [n for (u, n) in history if u == site.url("removed")] == [1]
        latest = {r["url"]: r for r in query(db_url, "select * from latest_articles")}
        assert "14 new" in latest[site.url("edited")]["text"]
        removed = latest[site.url("removed")]
        assert removed["removed_at"] is not None
        assert LEAD["removed"] in removed["text"]  # its last text stays readable
        assert latest[site.url("stable")]["removed_at"] is None

        # The same moment again: that step is done, nothing is fetched.
        requests_before = len(site.srv.requests)
        again = run_revisit([source], archive, now=first_seen + timedelta(hours=2))
        assert only(again).status == "skipped"
        assert len(site.srv.requests) == requests_before

        # A day later (25 h): the 6 h and 24 h steps are due for the two live articles, one fetch each.
        age_archive(db_url, 23)
        first_seen = last_first_seen(db_url)
        site.served.clear()
        third = run_revisit([source], archive, now=first_seen + timedelta(hours=25))
        assert only(third).not_modified == 2 and only(third).new_versions == 0, third
        assert sorted(site.served) == sorted([(PATHS["stable"], 304), (PATHS["edited"], 304)])

        # After the last step of the schedule nothing is ever due again.
        much_later = first_seen + timedelta(days=400)
        assert archive.due_revisits(source.id, much_later, SCHEDULE, 100) == []
        requests_before = len(site.srv.requests)
        last = run_revisit([source], archive, now=much_later)
        assert only(last).status == "skipped"
        assert len(site.srv.requests) == requests_before
        assert len(query(db_url, "select * from article_history")) == 4
    finally:
        archive.close()
