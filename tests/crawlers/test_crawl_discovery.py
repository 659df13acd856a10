"""Feed and sitemap parsing without a crawl: formats, hints, hostile XML, bounds, dates."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawlers.discovery import gunzip_bounded, parse_feed, parse_sitemap, parse_w3c_datetime
from crawlers.errors import BodyTooLarge, DiscoveryError, NotASitemap
from tests.crawlers.crawl_sites import urlset

LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    + "]>"
)


def test_rss2_items_carry_title_date_and_channel_language() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title><language>en-GB</language>'
        b"<item><title> Budget  2025 </title><link>https://a.example/n/1</link>"
        b"<pubDate>Tue, 07 Jan 2025 09:30:00 +0100</pubDate></item></channel></rss>"
    )
    [link] = parse_feed(body, "https://a.example/feed")
    assert link.url == "https://a.example/n/1"
    assert link.title == "Budget 2025"
    assert link.published == datetime(2025, 1, 7, 8, 30, tzinfo=UTC)
    assert link.language == "en-gb"


def test_atom_relative_links_resolve_against_the_feed_url_and_xml_lang_is_kept() -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN"><title>x</title>'
        b'<entry><title>T</title><link rel="alternate" href="/a/1"/><updated>2025-01-02T00:00:00Z</updated>'
        b"</entry></feed>"
    )
    [link] = parse_feed(body, "https://b.example/feeds/atom")
    assert (link.url, link.language) == ("https://b.example/a/1", "zh-cn")


def test_rss1_items_are_read() -> None:
    body = (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        b'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b'<channel rdf:about="c"><title>c</title><link>c</link></channel>'
        b'<item rdf:about="https://c.example/4"><title>R</title><link>https://c.example/4</link>'
        b"<dc:language>fr</dc:language></item></rdf:RDF>"
    )
    [link] = parse_feed(body, "https://c.example/rss")
    assert (link.url, link.title, link.language) == ("https://c.example/4", "R", "fr")


def test_an_html_page_is_not_a_feed() -> None:
    with pytest.raises(DiscoveryError):
        parse_feed(b"<html><body><p>hello</p></body></html>", "https://x.example/")


def test_feed_entities_are_not_expanded() -> None:
    body = (
        f'<?xml version="1.0"?>{LAUGHS}<rss version="2.0"><channel><title>c</title>'
        "<item><title>&lol9;</title><link>https://a.example/1</link></item></channel></rss>"
    ).encode()
    [link] = parse_feed(body, "https://a.example/")
    assert len(link.title or "") < 50


def test_sitemap_external_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://a.example/&x;</loc>'
        "</url></urlset>"
    ).encode()
    sitemap = parse_sitemap(body)
    assert "TOPSECRET" not in repr(sitemap)


def test_news_sitemap_entries_carry_title_date_and_language() -> None:
    body = (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://n.example/1</loc>'
        "<news:news><news:publication><news:name>N</news:name><news:language>zh-tw</news:language>"
        "</news:publication><news:publication_date>2025-02-01T08:00:00+08:00</news:publication_date>"
        "<news:title>標題</news:title></news:news></url></urlset>"
    ).encode()
    [link] = parse_sitemap(body).links
    assert (link.title, link.language) == ("標題", "zh-tw")
    assert link.published == datetime(2025, 2, 1, 0, 0, tzinfo=UTC)


def test_a_sitemap_is_read_up_to_its_bound() -> None:
    sitemap = parse_sitemap(urlset([f"https://a.example/{i}" for i in range(50_001)]))
    assert (len(sitemap.links), sitemap.truncated) == (50_000, True)
    small = parse_sitemap(urlset(["https://a.example/1", "https://a.example/2"]), max_urls=1)
    assert (len(small.links), small.truncated) == (1, True)


def test_a_feed_served_as_sitemap_is_recognised() -> None:
    with pytest.raises(NotASitemap) as info:
        parse_sitemap(b'<rss version="2.0"><channel></channel></rss>')
    assert info.value.root == "rss"


def test_gzip_is_inflated_only_up_to_the_limit() -> None:
    assert gunzip_bounded(gzip.compress(b"abc"), 10) == b"abc"
    with pytest.raises(BodyTooLarge):
        gunzip_bounded(gzip.compress(b"\0" * 1_000_000), 1000)
    with pytest.raises(DiscoveryError):
        gunzip_bounded(b"\x1f\x8bnot gzip", 1000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-02", datetime(2025, 1, 2, tzinfo=UTC)),
        ("2025-01", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-02T10:00:00Z", datetime(2025, 1, 2, 10, tzinfo=UTC)),
        ("2025-01-02T10:00+02:00", datetime(2025, 1, 2, 8, tzinfo=UTC)),
        ("Thu, 02 Jan 2025 10:00:00 GMT", datetime(2025, 1, 2, 10, tzinfo=UTC)),
        ("2025-02-30", None),
        ("10000-01-01", None),
        ("2025-01-02T10:00+25:00", None),
        ("", None),
        ("soon", None),
    ],
)
def test_sitemap_dates_parse_or_are_none_never_raise(text: str, expected: datetime | None) -> None:
    assert parse_w3c_datetime(text) == expected
