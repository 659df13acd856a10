"""The bundled demo site, served on 127.0.0.1 and read back over real HTTP."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from flows.demo import DemoSite
from flows.demo.site_server import SITE_DIR

SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
# sha256 of /work/shared/seed/seed_{plain,wechat}_layout.html: the site must carry them byte for byte.
SEED_SHA256 = {
    "/seed/plain.html": "ec4081f73a59d3d782a94deea7f8ff4190ab8eff2db1196a16d7d4ff43db4642",
    "/seed/wechat.html": "18249b365788e4ed69e5da7f3740d100447301c37405b37ee9fcdb265962cbb9",
}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


@pytest.fixture(scope="module")
def running_site() -> Iterator[DemoSite]:
    with DemoSite() as site:
        yield site


@pytest.fixture
def site(running_site: DemoSite) -> Iterator[DemoSite]:
    running_site.edition = 1
    running_site.clear_requests()
    yield running_site
    running_site.edition = 1


def fetch(site: DemoSite, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Reply:
    parts = urlsplit(site.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


def manifest() -> list[dict[str, str]]:
    return json.loads((SITE_DIR / "manifest.json").read_text(encoding="utf-8"))["articles"]


def manifest_urls(site: DemoSite) -> set[str]:
    urls = set()
    for item in manifest():
        urls.add(site.base_url + item["path"])
        if item.get("also_at"):
            urls.add(site.base_url + item["also_at"])
    return urls


def test_site_serves_at_least_32_articles_as_utf8_html_in_english_and_chinese(site: DemoSite) -> None:
    articles = site.articles
    assert len({a.path for a in articles}) == len(articles) >= 32
    langs = [a.lang for a in articles]
    assert langs.count("en") >= 14 and langs.count("zh") >= 14
    for article in articles:
        reply = fetch(site, article.path)
        assert reply.status == 200, article.path
        assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
        assert re.fullmatch(r'"[0-9a-f]{32}"', reply.headers["ETag"])
        assert reply.headers["ETag"] == '"' + hashlib.sha256(reply.body).hexdigest()[:32] + '"'
        assert reply.headers["Last-Modified"].endswith(" GMT")
        text = reply.body.decode("utf-8")
        assert "<title>" in text
        if article.kind != "seed":
            assert f'<html lang="{article.lang}' in text


def test_article_list_matches_the_manifest(site: DemoSite) -> None:
    assert {a.url for a in site.articles} == manifest_urls(site)
    kinds = [a.kind for a in site.articles]
    assert kinds.count("seed") == 2 and kinds.count("syndicated") == 2 and kinds.count("edited") == 1


def test_seed_renderings_are_byte_identical_copies_of_the_seed(site: DemoSite) -> None:
    for path, digest in SEED_SHA256.items():
        reply = fetch(site, path)
        assert reply.status == 200
        assert hashlib.sha256(reply.body).hexdigest() == digest


def test_feed_is_rss_listing_every_article_url_with_dates(site: DemoSite) -> None:
    reply = fetch(site, "/feed.xml")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/rss+xml")
    assert reply.headers["ETag"].startswith('"')
    root = ET.fromstring(reply.body)
    assert root.tag == "rss" and root.get("version") == "2.0"
    items = root.findall("./channel/item")
    links = [item.findtext("link") for item in items]
    assert set(links) == manifest_urls(site)
    assert len(links) == len(set(links))
    for item in items:
        assert item.findtext("title")
        assert item.findtext("guid") == item.findtext("link")
        assert re.match(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$", item.findtext("pubDate") or "")


def test_sitemap_lists_every_article_url_with_lastmod(site: DemoSite) -> None:
    reply = fetch(site, "/sitemap.xml")
    assert reply.status == 200
    assert "ETag" in reply.headers
    root = ET.fromstring(reply.body)
    entries = {
        u.findtext(f"{SITEMAP_NS}loc"): u.findtext(f"{SITEMAP_NS}lastmod")
        for u in root.iter(f"{SITEMAP_NS}url")
    }
    assert set(entries) == manifest_urls(site)
    assert all(lastmod and re.match(r"\d{4}-\d{2}-\d{2}T", lastmod) for lastmod in entries.values())


def test_listing_pages_link_every_article_and_chain_with_rel_next(site: DemoSite) -> None:
    seen: list[str] = []
    path: str | None = "/news/"
    pages = 0
    while path is not None:
        reply = fetch(site, path)
        assert reply.status == 200
        html = reply.body.decode("utf-8")
        links = re.findall(r'<a class="article-link" href="([^"]+)"', html)
        assert 0 < len(links) <= 20
        seen.extend(links)
        next_link = re.search(r'<a rel="next" href="([^"]+)"', html)
        path = next_link.group(1) if next_link else None
        pages += 1
        assert pages <= 5
    assert pages == 2
    assert sorted(seen) == sorted(item["path"] for item in manifest())
    assert fetch(site, "/news/?page=3").status == 404


def test_robots_txt_allows_all_and_names_the_sitemap(site: DemoSite) -> None:
    reply = fetch(site, "/robots.txt")
    assert reply.status == 200
    text = reply.body.decode()
    assert "User-agent: *" in text and "Disallow: /" not in text
    assert f"Sitemap: {site.base_url}/sitemap.xml" in text


def test_matching_if_none_match_gets_304_without_body(site: DemoSite) -> None:
    path = site.articles[0].path
    first = fetch(site, path)
    again = fetch(site, path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304
    assert again.body == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    other = fetch(site, path, headers={"If-None-Match": '"0000"'})
    assert other.status == 200 and other.body == first.body
    feed = fetch(site, "/feed.xml")
    assert fetch(site, "/feed.xml", headers={"If-None-Match": feed.headers["ETag"]}).status == 304


def test_if_modified_since_gets_304_only_when_not_older_than_last_modified(site: DemoSite) -> None:
    path = site.articles[0].path
    last_modified = fetch(site, path).headers["Last-Modified"]
    assert fetch(site, path, headers={"If-Modified-Since": last_modified}).status == 304
    assert fetch(site, path, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status == 200
    # If-None-Match takes precedence over If-Modified-Since (RFC 9110).
    both = fetch(site, path, headers={"If-Modified-Since": last_modified, "If-None-Match": '"stale"'})
    assert both.status == 200


def test_head_returns_the_get_headers_without_a_body(site: DemoSite) -> None:
    path = site.articles[0].path
    get = fetch(site, path)
    head = fetch(site, path, method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Length"] == str(len(get.body))


def test_only_the_edited_article_changes_in_edition_2(site: DemoSite) -> None:
    first = {a.path: fetch(site, a.path) for a in site.articles}
    sitemap_1 = fetch(site, "/sitemap.xml")
    site.edition = 2
    second = {a.path: fetch(site, a.path) for a in site.articles}
    sitemap_2 = fetch(site, "/sitemap.xml")

    changed = [path for path in first if first[path].body != second[path].body]
    edited = [a.path for a in site.articles if a.kind == "edited"]
    assert changed == edited
    (path,) = edited
    before, after = first[path], second[path]
    assert before.headers["ETag"] != after.headers["ETag"]
    assert before.headers["Last-Modified"] != after.headers["Last-Modified"]
    assert b"14 May 2024" in before.body and b"28 May 2024" not in before.body
    assert b"28 May 2024" in after.body and b"14 May 2024" not in after.body
    assert after.body.count(b"<p>") == before.body.count(b"<p>") + 1
    # A client revalidating with the edition-1 ETag must now get the new page.
    assert fetch(site, path, headers={"If-None-Match": before.headers["ETag"]}).status == 200
    for other in first:
        if other != path:
            assert first[other].headers["ETag"] == second[other].headers["ETag"]
    assert sitemap_1.headers["ETag"] != sitemap_2.headers["ETag"]

    def lastmod(reply: Reply) -> str | None:
        for url in ET.fromstring(reply.body).iter(f"{SITEMAP_NS}url"):
            if url.findtext(f"{SITEMAP_NS}loc") == site.base_url + path:
                return url.findtext(f"{SITEMAP_NS}lastmod")
        return None

    assert lastmod(sitemap_1) != lastmod(sitemap_2)
    site.edition = 1
    assert fetch(site, path).body == before.body


def test_syndicated_article_is_the_same_bytes_at_both_urls(site: DemoSite) -> None:
    syndicated = [a for a in site.articles if a.kind == "syndicated"]
    assert len(syndicated) == 2
    original, copy = sorted(syndicated, key=lambda a: a.syndicated_from is not None)
    assert copy.syndicated_from == original.path and original.path != copy.path
    assert fetch(site, original.path).body == fetch(site, copy.path).body
    assert original.title == copy.title


def test_unknown_paths_and_files_outside_the_manifest_are_404(site: DemoSite) -> None:
    edited = next(a for a in manifest() if a["kind"] == "edited")
    for path in (
        "/nope.html",
        "/manifest.json",
        "/" + edited["edition2_file"],
        "/en/2024/",
        "/../site_server.py",
        "/news/?page=0",
        "/news/?page=two",
    ):
        reply = fetch(site, path)
        assert reply.status == 404, path


def test_requests_are_recorded_with_status_and_headers(site: DemoSite) -> None:
    fetch(site, "/feed.xml", headers={"User-Agent": "scipol-test/1.0"})
    fetch(site, "/missing")
    records = site.requests
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/feed.xml", 200),
        ("GET", "/missing", 404),
    ]
    assert records[0].headers["User-Agent"] == "scipol-test/1.0"


def test_edition_accepts_only_1_or_2(site: DemoSite) -> None:
    with pytest.raises(ValueError):
        site.edition = 3
    assert site.edition == 1


def test_every_article_page_yields_its_body_to_trafilatura(site: DemoSite) -> None:
    trafilatura = pytest.importorskip("trafilatura")
    for article in site.articles:
        html = fetch(site, article.path).body.decode("utf-8")
        text = trafilatura.extract(html, url=article.url, with_metadata=False) or ""
        if article.lang == "en":
            assert len(text.split()) >= 150, article.path
        else:
            assert len(re.findall(r"[\u4e00-\u9fff]", text)) >= 300, article.path


def test_demo_sources_file_is_a_valid_sources_file_once_the_base_url_is_filled_in(site: DemoSite) -> None:
    yaml = pytest.importorskip("yaml")
    from schemas.sources import parse_sources

    text = (SITE_DIR.parent / "sources.yaml").read_text(encoding="utf-8")
    assert "__BASE_URL__" in text
    (source,) = parse_sources(yaml.safe_load(text.replace("__BASE_URL__", site.base_url)))
    assert source.feeds == [site.base_url + "/feed.xml"]
    assert source.sitemaps == [site.base_url + "/sitemap.xml"]
    assert source.listing_pages[0].url == site.base_url + "/news/"
    assert source.allow_private_addresses
    for url in [*source.feeds, *source.sitemaps, source.listing_pages[0].url]:
        assert fetch(site, urlsplit(url).path).status == 200
