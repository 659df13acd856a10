"""Builders shared by the crawl tests: feeds, sitemaps and sources pointing at local FaultServers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from crawlers.runner import CrawlOptions
from schemas.sources import SourceConfig

FAST = CrawlOptions(
    user_agent="scipol-test/0.1 (+tests; test@example.org)",
    timeout_s=60,
    download_timeout_s=1.0,
    retry_backoff_s=0.1,
    max_bytes=1024 * 1024,
)


def recent(days: int = 1) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rss(items: list[tuple[str, str]], language: str = "en-us") -> bytes:
    body = "".join(
        f"<item><title>{escape(title)}</title><link>{escape(url)}</link>"
        f"<pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate></item>"
        for url, title in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<language>{language}</language>{body}</channel></rss>"
    ).encode()


def urlset(urls: list[str], lastmod: str | None = None) -> bytes:
    mod = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
    body = "".join(f"<url><loc>{escape(u)}</loc>{mod}</url>" for u in urls)
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'.encode()


def sitemap_index(urls: list[str]) -> bytes:
    body = "".join(f"<sitemap><loc>{escape(u)}</loc></sitemap>" for u in urls)
    return f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</sitemapindex>'.encode()


def source(**fields: Any) -> SourceConfig:
    base: dict[str, Any] = {
        "id": "test_site",
        "name": "Test site",
        "allow_private_addresses": True,
        "download_delay": 0,
        "concurrency": 1,
    }
    base.update(fields)
    return SourceConfig(**base)


def by_url(items: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for item in items:
        out.setdefault(item.url, []).append(item)
    return out
