"""One real crawl of a small local site (feeds, sitemaps, listing pages, articles) that also serves
the per-URL fault scenarios of RELIABILITY.md. One subprocess, many figures."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawlers.runner import CrawlResult, run_crawl
from schemas.capture import Capture, FetchError, KnownUrl
from tests.crawlers.crawl_sites import FAST, by_url, recent, rss, sitemap_index, source, urlset
from tests.support.httpserver import FaultServer, RecordedRequest, Reply, html

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer <<>>\n%%EOF\n"
ARTICLE = "<html><head><title>{0}</title></head><body><article><p>{0} body text.</p></article></body></html>"


@dataclass
class SiteCrawl:
    srv: FaultServer
    items: list[Capture | FetchError]
    result: CrawlResult
    urls: dict[str, list[Any]]

    def one(self, path: str) -> Any:
        found = self.urls.get(self.srv.url(path), [])
        assert len(found) == 1, f"{path}: expected one record, got {found}"
        return found[0]


def _known_article(request: RecordedRequest) -> Reply:
    if request.headers.get("If-None-Match") == '"v1"':
        return Reply(status=304, headers={"ETag": '"v1"'})
    return html(ARTICLE.format("Known"), ETag='"v1"')


def _serve_site(srv: FaultServer) -> None:
    u = srv.url
    srv.route(
        "/robots.txt",
        Reply(body=b"User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"}),
    )
    feed_items = [
        (u("/articles/1"), "Article One"),
        (u("/articles/2?utm_source=rss"), "Article Two"),
        (u("/private/secret"), "Secret"),
        (u("/nope/1"), "Denied"),
        ("javascript:alert(1)", "Bad"),
        (u("/articles/pdf"), "PDF"),
        (u("/articles/fakepdf"), "Fake"),
        (u("/articles/gzraw"), "Gz"),
        (u("/articles/gone"), "Gone"),
        (u("/articles/known"), "Known"),
        (u("/articles/flaky"), "Flaky"),
        (u("/articles/down"), "Down"),
        (u("/articles/forbidden"), "Forbidden"),
        (u("/articles/trunc"), "Trunc"),
        (u("/articles/loop-a"), "Loop"),
        (u("/articles/chain/0"), "Chain"),
        (u("/articles/tofile"), "File"),
        (u("/articles/offsite"), "Offsite"),
        (u("/articles/moved"), "Moved"),
        (u("/articles/bomb"), "Bomb"),
        (u("/articles/huge"), "Huge"),
        (u("/articles/huge-chunked"), "Huge chunked"),
    ]
    srv.route("/feed.xml", Reply(body=rss(feed_items), headers={"Content-Type": "application/rss+xml"}))
    srv.route(
        "/atom.xml",
        Reply(
            headers={"Content-Type": "application/atom+xml"},
            body=(
                '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh"><title>A</title>'
                f'<entry><title>Article Three</title><link href="{u("/articles/3")}"/>'
                "<updated>2025-01-02T00:00:00Z</updated></entry></feed>"
            ).encode(),
        ),
    )
    srv.route(
        "/rss1.rdf",
        Reply(
            headers={"Content-Type": "application/rdf+xml"},
            body=(
                '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                'xmlns="http://purl.org/rss/1.0/">'
                '<channel rdf:about="x"><title>R</title><link>x</link></channel>'
                f'<item rdf:about="{u("/articles/4")}"><title>Article Four</title>'
                f'<link>{u("/articles/4")}</link></item>'
                "</rdf:RDF>"
            ).encode(),
        ),
    )
    srv.route(
        "/sitemap_index.xml",
        Reply(
            body=sitemap_index([u("/sitemap-news.xml"), u("/sitemap-pages.xml.gz"), u("/sitemap_index.xml")])
        ),
    )
    srv.route(
        "/sitemap-news.xml",
        Reply(
            body=(
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
                f"<url><loc>{u('/articles/5')}</loc><news:news><news:publication><news:name>N</news:name>"
                "<news:language>de</news:language></news:publication>"
                f"<news:publication_date>{recent()}</news:publication_date>"
                "<news:title>Artikel Fünf</news:title>"
                f"</news:news></url><url><loc>{u('/articles/2')}</loc></url></urlset>"
            ).encode()
        ),
    )
    pages = (
        urlset([u("/articles/6")], lastmod=recent())[: -len(b"</urlset>")]
        + (f"<url><loc>{u('/articles/old')}</loc><lastmod>2001-01-01</lastmod></url></urlset>").encode()
    )
    srv.route(
        "/sitemap-pages.xml.gz",
        Reply(body=gzip.compress(pages), headers={"Content-Type": "application/gzip"}),
    )
    srv.route(
        "/list/1",
        html(
            '<ul class="news"><li><a href="/articles/7">7</a></li>'
            '<li><a href="/articles/1#top">1 again</a></li></ul><a class="next" href="/list/2">n</a>'
        ),
    )
    srv.route(
        "/list/2",
        html(
            '<ul class="news"><li><a href="/articles/8">8</a></li></ul><a class="next" href="/list/3">n</a>'
        ),
    )
    srv.route("/list/3", html('<ul class="news"><li><a href="/articles/9">9</a></li></ul>'))

    for name in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "old", "final"):
        srv.route(f"/articles/{name}", html(ARTICLE.format(f"Article {name}")))
    srv.route("/articles/pdf", Reply(body=PDF, headers={"Content-Type": "application/pdf"}))
    srv.route("/articles/fakepdf", Reply(body=PDF, headers={"Content-Type": "text/html"}))
    srv.route(
        "/articles/gzraw",
        Reply(body=gzip.compress(ARTICLE.format("gz").encode()), headers={"Content-Type": "text/html"}),
    )
    srv.route("/articles/gone", Reply(status=410, body=b"gone"))
    srv.route("/articles/known", _known_article)
    srv.route("/articles/flaky", Reply(status=503, body=b"busy"), html(ARTICLE.format("Flaky")))
    srv.route("/articles/down", Reply(status=503, body=b"down"))
    srv.route("/articles/forbidden", Reply(status=403, body=b"no"))
    srv.route(
        "/articles/trunc",
        Reply(
            body=ARTICLE.format("x" * 2000).encode(), truncate_to=300, headers={"Content-Type": "text/html"}
        ),
    )
    srv.route("/articles/loop-a", Reply(status=302, headers={"Location": "/articles/loop-b"}))
    srv.route("/articles/loop-b", Reply(status=302, headers={"Location": "/articles/loop-a"}))
    for i in range(20):
        srv.route(f"/articles/chain/{i}", Reply(status=302, headers={"Location": f"/articles/chain/{i + 1}"}))
    srv.route("/articles/tofile", Reply(status=302, headers={"Location": "file:///etc/passwd"}))
    srv.route("/articles/offsite", Reply(status=301, headers={"Location": "http://example.com/x"}))
    srv.route("/articles/moved", Reply(status=301, headers={"Location": "/articles/final"}))
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024), compresslevel=9)
    srv.route(
        "/articles/bomb", Reply(body=bomb, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})
    )
    srv.route(
        "/articles/huge", Reply(body=b"<p>" + b"a" * (3 * 1024 * 1024), headers={"Content-Type": "text/html"})
    )
    srv.route(
        "/articles/huge-chunked",
        Reply(body=b"<p>" + b"a" * (3 * 1024 * 1024), chunked=True, headers={"Content-Type": "text/html"}),
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteCrawl]:
    with FaultServer() as srv:
        _serve_site(srv)
        src = source(
            feeds=[srv.url("/feed.xml"), srv.url("/atom.xml"), srv.url("/rss1.rdf")],
            sitemaps=[srv.url("/sitemap_index.xml")],
            listing_pages=[
                {
                    "url": srv.url("/list/1"),
                    "link_selector": "ul.news li",
                    "next_selector": "a.next",
                    "max_pages": 2,
                }
            ],
            deny_patterns=["/nope/"],
        )
        known = [KnownUrl(url=srv.url("/articles/known"), etag='"v1"')]
        spool: Path = tmp_path_factory.mktemp("spool") / "site"
        items, result = run_crawl(src, spool, known, FAST)
        yield SiteCrawl(srv, items, result, by_url(items))


def test_the_crawl_succeeds_and_writes_stats(site: SiteCrawl) -> None:
    assert site.result.ok, site.result.message
    assert site.result.returncode == 0
    assert site.result.stats["finish_reason"] == "finished"
    assert site.result.stats["scipol/captures/page"] >= 10
    assert all(item.source_id == "test_site" for item in site.items)


def test_feeds_sitemaps_and_listings_all_lead_to_articles(site: SiteCrawl) -> None:
    pages = {c.url for c in site.items if isinstance(c, Capture) and c.kind == "page"}
    for name in ("1", "3", "4", "5", "6", "7", "8"):
        assert site.srv.url(f"/articles/{name}") in pages, name
    assert site.one("/articles/7").discovered_via == "listing"
    assert site.one("/articles/6").discovered_via == "sitemap"
    assert site.one("/articles/4").discovered_via == "feed"


def test_every_article_is_fetched_once_across_feeds_sitemaps_listings_and_tracking_variants(
    site: SiteCrawl,
) -> None:
    assert site.srv.hits("/articles/1") == 1
    assert site.srv.hits("/articles/2") + site.srv.hits("/articles/2?utm_source=rss") == 1
    assert site.srv.hits("/sitemap_index.xml") == 1  # the index lists itself


def test_feed_and_news_sitemap_hints_are_on_the_capture(site: SiteCrawl) -> None:
    one = site.one("/articles/1")
    assert one.hint_title == "Article One"
    assert one.hint_published is not None and one.hint_published.year == 2025
    assert one.hint_language == "en-us"
    assert site.one("/articles/3").hint_language == "zh"
    five = site.one("/articles/5")
    assert (five.hint_title, five.hint_language) == ("Artikel Fünf", "de")
    assert five.hint_published is not None


def test_old_sitemap_entries_pagination_beyond_max_pages_and_denied_urls_are_not_fetched(
    site: SiteCrawl,
) -> None:
    assert site.srv.hits("/articles/old") == 0
    assert site.srv.hits("/list/2") == 1
    assert site.srv.hits("/list/3") == 0 and site.srv.hits("/articles/9") == 0
    assert site.srv.hits("/nope/1") == 0


def test_robots_disallowed_urls_are_never_fetched(site: SiteCrawl) -> None:
    assert site.srv.hits("/private/secret") == 0
    assert site.one("/private/secret").reason == "robots"


def test_pdf_and_mislabelled_binaries_are_non_html_with_their_body(site: SiteCrawl) -> None:
    for path in ("/articles/pdf", "/articles/fakepdf", "/articles/gzraw"):
        capture = site.one(path)
        assert capture.kind == "non_html", path
        assert capture.body and capture.sha256
    assert site.one("/articles/pdf").body == PDF


def test_gone_and_not_modified_captures(site: SiteCrawl) -> None:
    gone = site.one("/articles/gone")
    assert (gone.kind, gone.status, gone.body) == ("gone", 410, None)
    known = site.one("/articles/known")
    assert (known.kind, known.status, known.body) == ("not_modified", 304, None)
    sent = [r for r in site.srv.requests if r.path == "/articles/known"]
    assert [r.headers.get("If-None-Match") for r in sent] == ['"v1"']


def test_503_then_200_is_retried_into_one_page(site: SiteCrawl) -> None:
    assert site.srv.hits("/articles/flaky") == 2
    flaky = site.one("/articles/flaky")
    assert isinstance(flaky, Capture) and flaky.kind == "page" and flaky.status == 200


def test_persistent_503_gives_up_after_the_retry_limit(site: SiteCrawl) -> None:
    assert site.srv.hits("/articles/down") == 3
    down = site.one("/articles/down")
    assert isinstance(down, FetchError) and (down.reason, down.status) == ("http_status", 503)
    forbidden = site.one("/articles/forbidden")
    assert (forbidden.reason, forbidden.status) == ("http_status", 403)
    assert site.srv.hits("/articles/forbidden") == 1  # 4xx is an answer, not retried


def test_a_truncated_body_is_an_error_never_a_page(site: SiteCrawl) -> None:
    trunc = site.one("/articles/trunc")
    assert isinstance(trunc, FetchError) and trunc.reason == "truncated"
    assert 1 <= site.srv.hits("/articles/trunc") <= 3


def test_redirect_loops_and_long_chains_stop_with_bounded_requests(site: SiteCrawl) -> None:
    assert site.one("/articles/loop-a").reason == "redirect_loop"
    assert site.srv.hits("/articles/loop-a") + site.srv.hits("/articles/loop-b") == 2
    assert site.one("/articles/chain/0").reason == "redirect_loop"
    chain_hits = sum(site.srv.hits(f"/articles/chain/{i}") for i in range(20))
    assert chain_hits == 6  # the first request + REDIRECT_MAX_TIMES (5) hops


def test_redirects_to_file_urls_and_other_hosts_are_not_followed(site: SiteCrawl) -> None:
    assert site.one("/articles/tofile").reason == "scheme"
    assert site.one("/articles/offsite").reason == "offsite"
    moved = site.one("/articles/moved")
    assert moved.kind == "page" and moved.final_url == site.srv.url("/articles/final")


def test_bodies_over_the_size_limit_are_cancelled_also_after_decompression(site: SiteCrawl) -> None:
    for path in ("/articles/bomb", "/articles/huge", "/articles/huge-chunked"):
        record = site.one(path)
        assert isinstance(record, FetchError) and record.reason == "too_large", (path, record)
    biggest = max(len(c.body or b"") for c in site.items if isinstance(c, Capture))
    assert biggest <= FAST.max_bytes


def test_requests_carry_our_user_agent_and_no_cookies(site: SiteCrawl) -> None:
    assert {r.headers.get("User-Agent") for r in site.srv.requests} == {FAST.user_agent}
    assert not any("Cookie" in r.headers for r in site.srv.requests)


def test_capture_bodies_round_trip_through_the_spool(site: SiteCrawl) -> None:
    one = site.one("/articles/1")
    assert one.body is not None and b"Article 1 body text." in one.body
    assert one.headers["content-type"].startswith("text/html")
