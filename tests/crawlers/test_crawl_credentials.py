"""RELIABILITY.md A11: no credentials cross an origin, and none are ever sent.

The crawler keeps no cookie jar (COOKIES_ENABLED = False) and sends no Authorization; a site that sets
cookies and then redirects to another origin must see none come back, on either origin.
"""

from __future__ import annotations

from pathlib import Path

from crawlers.runner import run_crawl
from schemas.capture import Capture
from tests.crawlers.crawl_sites import FAST, rss, source
from tests.support.httpserver import FaultServer, Reply, html

CREDENTIAL_HEADERS = ("cookie", "authorization", "proxy-authorization")


def test_cookies_set_by_one_origin_never_reach_it_or_the_next(tmp_path: Path) -> None:
    with FaultServer() as a, FaultServer() as b:
        target = f"http://localhost:{b.port}/article"
        cookie = {"Set-Cookie": "session=s3cret; Path=/", "Content-Type": "application/rss+xml"}
        a.route("/robots.txt", Reply(body=b"User-agent: *\nAllow: /\n", headers={"Set-Cookie": "r=1"}))
        b.route("/robots.txt", Reply(body=b"User-agent: *\nAllow: /\n"))
        a.route("/feed.xml", Reply(body=rss([(a.url("/go"), "Moved"), (a.url("/stay"), "Stays")]), headers=cookie))
        a.route("/go", Reply(status=302, headers={"Location": target, "Set-Cookie": "auth=token; Path=/"}))
        a.route("/stay", html("<html><body><article><p>Same origin page text.</p></article></body></html>"))
        b.route("/article", html("<html><body><article><p>Moved article text.</p></article></body></html>",
                                 **{"Set-Cookie": "other=1"}))
        src = source(feeds=[a.url("/feed.xml")], allowed_domains=["127.0.0.1", "localhost"])
        items, result = run_crawl(src, tmp_path / "spool", (), FAST)

    assert result.ok, result
    pages = {c.final_url for c in items if isinstance(c, Capture) and c.kind == "page"}
    assert pages == {target, a.url("/stay")}
    requests = [*a.requests, *b.requests]
    assert len(requests) >= 6  # robots x2, feed, /go, /stay, /article: the crawl really went both ways
    leaked = [(r.path, h) for r in requests for h in r.headers if h.lower() in CREDENTIAL_HEADERS]
    assert leaked == []
