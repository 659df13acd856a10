"""Hostile and oversized discovery documents in a real crawl: XXE and billion laughs in feeds and
sitemaps, a 50,001-URL sitemap, a 10-level sitemap index, a self-referencing index and a crawler
trap bigger than the page budget (RELIABILITY.md B3, B4, B8, A14)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from crawlers.runner import CrawlResult, run_crawl
from schemas.capture import Capture, FetchError
from tests.crawlers.crawl_sites import FAST, rss, sitemap_index, source, urlset
from tests.support.httpserver import FaultServer, Reply, html

TOKEN = "CANARY-7f3a9c"
BUDGET = 40
LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    + "]>"
)


@dataclass
class Hostile:
    srv: FaultServer
    items: list[Capture | FetchError]
    result: CrawlResult


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    tmp = tmp_path_factory.mktemp("hostile")
    canary_file = tmp / "canary.txt"
    canary_file.write_text(TOKEN)
    with FaultServer() as srv:
        u = srv.url
        srv.route("/robots.txt", Reply(status=404))
        srv.route("/canary", Reply(body=TOKEN.encode()))
        xxe = (
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY file SYSTEM "file://{canary_file}">'
            f'<!ENTITY net SYSTEM "{u("/canary")}">]><rss version="2.0"><channel><title>x</title>'
            f"<item><title>a &file; b &net;</title><link>{u('/articles/xxe')}</link></item></channel></rss>"
        )
        srv.route("/xxe-feed.xml", Reply(body=xxe.encode()))
        laughs = (
            f'<?xml version="1.0"?>{LAUGHS}<rss version="2.0"><channel><title>&lol9;</title>'
            f"<item><title>&lol9;</title><link>{u('/articles/laughs')}</link></item></channel></rss>"
        )
        srv.route("/laughs-feed.xml", Reply(body=laughs.encode()))
        srv.route(
            "/xxe-sitemap.xml",
            Reply(
                body=(
                    f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY net SYSTEM "{u("/canary")}">]>'
                    '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    f"<url><loc>{u('/articles/sm')}&net;</loc></url></urlset>"
                ).encode()
            ),
        )
        srv.route(
            "/laughs-sitemap.xml",
            Reply(
                body=(
                    f'<?xml version="1.0"?>{LAUGHS}<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    "<url><loc>&lol9;</loc></url></urlset>"
                ).encode()
            ),
        )
        srv.route("/big-sitemap.xml", Reply(body=urlset([u(f"/bulk/{i}") for i in range(50_001)])))
        for level in range(10):
            srv.route(f"/idx{level}.xml", Reply(body=sitemap_index([u(f"/idx{level + 1}.xml")])))
        srv.route(
            "/self.xml", Reply(body=sitemap_index([u("/self.xml"), u("/self.xml#f"), u("/self.xml?x=1")]))
        )
        for name in ("xxe", "laughs", "sm"):
            srv.route(f"/articles/{name}", html(f"<p>{name}</p>"))
        src = source(
            feeds=[u("/xxe-feed.xml"), u("/laughs-feed.xml")],
            sitemaps=[
                u("/xxe-sitemap.xml"),
                u("/laughs-sitemap.xml"),
                u("/big-sitemap.xml"),
                u("/idx0.xml"),
                u("/self.xml"),
            ],
            deny_patterns=["/bulk/"],
            max_depth=3,
        )
        items, result = run_crawl(src, tmp / "spool", (), replace(FAST, max_bytes=8 * 1024 * 1024))
        yield Hostile(srv, items, result)


def _texts(items: list[Capture | FetchError]) -> str:
    return " ".join(str(i.model_dump(exclude={"body"})) for i in items)


def test_external_entities_are_never_resolved(hostile: Hostile) -> None:
    assert hostile.srv.hits("/canary") == 0
    assert TOKEN not in _texts(hostile.items)
    xxe = [i for i in hostile.items if isinstance(i, Capture) and i.url.endswith("/articles/xxe")]
    assert len(xxe) == 1 and xxe[0].hint_title is not None and TOKEN not in xxe[0].hint_title


def test_billion_laughs_never_expand(hostile: Hostile) -> None:
    laughs = [i for i in hostile.items if isinstance(i, Capture) and i.url.endswith("/articles/laughs")]
    assert len(laughs) == 1
    assert len(laughs[0].hint_title or "") < 100
    assert "lollollol" not in _texts(hostile.items)


def test_a_sitemap_over_50000_urls_is_read_up_to_the_bound(hostile: Hostile) -> None:
    stats = hostile.result.stats
    assert stats["scipol/sitemap/truncated"] == 1
    # 50,000 from the big sitemap + idx0..idx3 (1 each) + self.xml and self.xml?x=1 (3 each)
    # + xxe-sitemap (1).
    assert stats["scipol/sitemap/entries"] == 50_000 + 4 + 6 + 1
    assert stats["scipol/discovery/filtered"] == 50_000
    assert not any(r.path.startswith("/bulk/") for r in hostile.srv.requests)


def test_sitemap_index_depth_is_bounded_and_self_references_are_fetched_once(hostile: Hostile) -> None:
    assert [hostile.srv.hits(f"/idx{level}.xml") for level in range(6)] == [1, 1, 1, 1, 0, 0]
    assert hostile.result.stats["scipol/sitemap/depth_limited"] == 1
    assert (hostile.srv.hits("/self.xml"), hostile.srv.hits("/self.xml?x=1")) == (1, 1)


def test_the_crawl_of_hostile_documents_still_finishes_ok(hostile: Hostile) -> None:
    assert hostile.result.ok, hostile.result.message
    assert hostile.result.stats["finish_reason"] == "finished"


def test_a_crawler_trap_is_bounded_by_the_page_budget_and_garbage_documents_are_parse_errors(
    tmp_path: Path,
) -> None:
    with FaultServer() as srv:
        srv.route("/robots.txt", Reply(status=404))
        srv.route("/sitemap.xml", html("<html><body>not a sitemap</body></html>"))
        srv.route("/feed.xml", Reply(body=b"\x00\x01garbage"))
        srv.route("/trap.xml", Reply(body=rss([(srv.url(f"/trap/{i}"), "t") for i in range(200)])))
        srv.default = html("<p>trap</p>")
        src = source(
            sitemaps=[srv.url("/sitemap.xml")],
            feeds=[srv.url("/feed.xml"), srv.url("/trap.xml")],
            page_budget=BUDGET,
        )
        items, result = run_crawl(src, tmp_path / "spool", (), FAST)
        assert len(srv.requests) <= BUDGET
    assert result.stats["scipol/budget/dropped"] > 150
    errors = sorted(i.reason for i in items if isinstance(i, FetchError))
    assert errors.count("parse") == 2 and set(errors) <= {"parse", "budget"}
    assert result.ok  # the documents were fetched; two just held nothing
