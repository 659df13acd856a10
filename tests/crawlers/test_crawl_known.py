"""Known articles in an ingest: re-requested only when discovery dates them after our copy."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawlers.runner import run_crawl
from schemas.capture import Capture, KnownUrl
from tests.crawlers.crawl_sites import FAST, source
from tests.support.httpserver import FaultServer, Reply, html

HELD = "Mon, 06 Jan 2025 10:00:00 GMT"
"""The Last-Modified our archived copies carry."""
FETCHED = datetime(2025, 1, 7, tzinfo=UTC)


def _sitemap(srv: FaultServer, entries: dict[str, str | None]) -> bytes:
    rows = "".join(
        f"<url><loc>{srv.url(path)}</loc>{f'<lastmod>{mod}</lastmod>' if mod else ''}</url>"
        for path, mod in entries.items()
    )
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'.encode()


def _crawl(tmp_path: Path, srv: FaultServer, known: list[KnownUrl], **fields: object) -> list[str]:
    src = source(sitemaps=[srv.url("/sitemap.xml")], lookback_days=36500, **fields)
    items, result = run_crawl(src, tmp_path / "spool", known, FAST)
    assert result.ok, result
    stats_skipped = int(result.stats.get("scipol/known/skipped", 0))
    fetched = sorted(c.url.removeprefix(srv.base) for c in items if isinstance(c, Capture))
    return [*fetched, f"skipped={stats_skipped}"]


@pytest.fixture
def site() -> FaultServer:
    srv = FaultServer()
    srv.route("/robots.txt", Reply(body=b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}))
    entries = {
        "/a/same": "2025-01-06T10:00:00Z",  # dated exactly as our copy: unchanged
        "/a/older": "2024-12-01",  # dated before our copy
        "/a/edited": "2025-02-01T08:00:00Z",  # dated after our copy: worth a request
        "/a/undated": None,  # no date: left to the revisit flow
        "/a/gone": "2020-01-01",  # our last fetch was a 404: worth a request whatever the date
        "/a/new": "2020-01-01",  # unknown: always requested
    }
    srv.route("/sitemap.xml", Reply(body=_sitemap(srv, entries), headers={"Content-Type": "application/xml"}))
    for path in entries:
        srv.route(path, Reply(status=304) if path != "/a/new" else html("<p>new</p>"))
    srv.start()
    yield srv
    srv.stop()


def _known(srv: FaultServer) -> list[KnownUrl]:
    held = {"etag": '"v1"', "last_modified": HELD, "last_fetched_at": FETCHED}
    return [
        *(KnownUrl(url=srv.url(p), **held) for p in ("/a/same", "/a/older", "/a/edited", "/a/undated")),
        KnownUrl(url=srv.url("/a/gone"), last_fetched_at=FETCHED, gone=True),
    ]


def test_only_known_articles_dated_after_our_copy_are_requested(tmp_path: Path, site: FaultServer) -> None:
    assert _crawl(tmp_path, site, _known(site)) == ["/a/edited", "/a/gone", "/a/new", "skipped=3"]
    assert site.hits("/a/same") == site.hits("/a/older") == site.hits("/a/undated") == 0


def test_recheck_all_requests_every_known_article_conditionally(tmp_path: Path, site: FaultServer) -> None:
    fetched = _crawl(tmp_path, site, _known(site), recheck_known="all")
    assert fetched == ["/a/edited", "/a/gone", "/a/new", "/a/older", "/a/same", "/a/undated", "skipped=0"]
    same = [r for r in site.requests if r.path == "/a/same"]
    assert same[0].headers.get("If-None-Match") == '"v1"' and same[0].headers.get("If-Modified-Since") == HELD


def test_without_a_last_modified_the_fetch_time_is_what_we_hold(tmp_path: Path, site: FaultServer) -> None:
    # Copies fetched 2025-01-07 with no Last-Modified: /a/same (2025-01-06) is older than our copy.
    known = [KnownUrl(url=site.url(p), etag='"v1"', last_fetched_at=FETCHED) for p in ("/a/same", "/a/edited")]
    assert _crawl(tmp_path, site, known) == [
        "/a/edited", "/a/gone", "/a/new", "/a/older", "/a/undated", "skipped=1"
    ]


def test_a_known_url_held_in_another_form_is_still_known(tmp_path: Path, site: FaultServer) -> None:
    # Fetched once through a campaign link with an upper-case host: the sitemap's plain URL is the same
    # article (canonical forms agree), dated as our copy, so it is not requested.
    held = {"etag": '"v1"', "last_modified": HELD, "last_fetched_at": FETCHED}
    variant = site.url("/a/same?utm_source=newsletter").replace("127.0.0.1", "127.0.0.1".upper())
    known = [KnownUrl(url=variant, **held), KnownUrl(url=site.url("/a/older"), **held)]
    assert _crawl(tmp_path, site, known) == ["/a/edited", "/a/gone", "/a/new", "/a/undated", "skipped=2"]
    assert site.hits("/a/same") == 0
