"""robots.txt per RFC 9309, Retry-After, hung servers, private addresses, revisits and the wall-clock
limit, each against real local servers (RELIABILITY.md A2, A3, A13, A16, invariant 9)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from crawlers.runner import CrawlResult, run_crawl
from schemas.capture import Capture, FetchError, KnownUrl
from tests.crawlers.crawl_sites import FAST, by_url, rss, source
from tests.support.httpserver import FaultServer, Reply, html

RETRY_AFTER_S = 2


@dataclass
class Polite:
    main: FaultServer
    robots_404: FaultServer
    robots_503: FaultServer
    robots_hung: FaultServer
    limited: FaultServer
    busy: FaultServer
    items: list[Capture | FetchError]
    result: CrawlResult

    def record(self, srv: FaultServer, path: str) -> Capture | FetchError:
        found = by_url(self.items).get(srv.url(path), [])
        assert len(found) == 1, (path, found)
        return found[0]


@pytest.fixture(scope="module")
def polite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Polite]:
    servers = [FaultServer().start() for _ in range(6)]
    main, robots_404, robots_503, robots_hung, limited, busy = servers
    try:
        main.route("/robots.txt", Reply(body=b"User-agent: *\nAllow: /\n"))
        main.route("/hung", Reply(delay_s=30, body=b"late"))
        robots_404.route("/robots.txt", Reply(status=404))
        robots_503.route("/robots.txt", Reply(status=503))
        robots_hung.route("/robots.txt", Reply(delay_s=30, body=b"User-agent: *\nAllow: /\n"))
        limited.route("/robots.txt", Reply(status=404))
        limited.route("/a", Reply(status=429, headers={"Retry-After": str(RETRY_AFTER_S)}), html("<p>a</p>"))
        busy.route("/robots.txt", Reply(status=404))
        busy.route("/x", Reply(status=429, headers={"Retry-After": "3600"}))
        for srv in servers:
            for name in ("a", "b", "c", "y"):
                if srv is not limited or name != "a":
                    srv.route(f"/{name}", html(f"<p>{name}</p>"))
        links = [
            robots_404.url("/a"),
            robots_503.url("/a"),
            robots_hung.url("/a"),
            limited.url("/a"),
            limited.url("/b"),
            limited.url("/c"),
            busy.url("/x"),
            busy.url("/y"),
            main.url("/hung"),
        ]
        main.route("/feed.xml", Reply(body=rss([(u, "t") for u in links])))
        src = source(feeds=[main.url("/feed.xml")])
        items, result = run_crawl(src, tmp_path_factory.mktemp("spool") / "polite", (), FAST)
        yield Polite(main, robots_404, robots_503, robots_hung, limited, busy, items, result)
    finally:
        for srv in servers:
            srv.stop()


def test_robots_404_allows_everything(polite: Polite) -> None:
    assert polite.robots_404.hits("/a") == 1
    assert polite.record(polite.robots_404, "/a").kind == "page"  # type: ignore[union-attr]


def test_robots_503_disallows_everything_after_retrying_robots(polite: Polite) -> None:
    assert polite.robots_503.hits("/a") == 0
    assert polite.robots_503.hits("/robots.txt") == 3
    assert polite.record(polite.robots_503, "/a").reason == "robots"  # type: ignore[union-attr]


def test_robots_timeout_disallows_everything(polite: Polite) -> None:
    assert polite.robots_hung.hits("/a") == 0
    assert polite.record(polite.robots_hung, "/a").reason == "robots"  # type: ignore[union-attr]


def test_no_request_reaches_a_host_inside_its_retry_after_window(polite: Polite) -> None:
    first_429 = polite.limited.times("/a")[0]
    later = [t - first_429 for t in polite.limited.times() if t > first_429]
    assert later, "the 429'd URL was never retried"
    assert min(later) >= RETRY_AFTER_S
    assert polite.limited.hits("/a") == 2
    assert polite.record(polite.limited, "/a").kind == "page"  # type: ignore[union-attr]


def test_a_retry_after_beyond_the_cap_gives_up_without_waiting(polite: Polite) -> None:
    assert polite.busy.hits("/x") == 1
    error = polite.record(polite.busy, "/x")
    assert isinstance(error, FetchError) and (error.reason, error.status) == ("http_status", 429)


def test_a_hung_server_times_out_and_is_retried_a_bounded_number_of_times(polite: Polite) -> None:
    assert polite.main.hits("/hung") == 3
    error = polite.record(polite.main, "/hung")
    assert isinstance(error, FetchError) and error.reason == "timeout"
    assert polite.result.ok, polite.result.message


def test_private_addresses_are_refused_unless_the_source_allows_them(tmp_path: Path) -> None:
    with FaultServer() as srv:
        srv.route("/feed.xml", Reply(body=rss([(srv.url("/a"), "a")])))
        src = source(
            feeds=[srv.url("/feed.xml"), f"http://localhost:{srv.port}/feed.xml"],
            allowed_domains=["127.0.0.1", "localhost"],
            allow_private_addresses=False,
        )
        items, result = run_crawl(src, tmp_path / "spool", (), FAST)
        assert srv.hits("/robots.txt") + srv.hits("/feed.xml") + srv.hits("/a") == 0
    assert sorted(i.reason for i in items if isinstance(i, FetchError)) == ["private_address"] * 2
    assert not result.ok and "failed" in result.message


def test_revisit_mode_fetches_only_the_given_urls_conditionally(tmp_path: Path) -> None:
    with FaultServer() as srv:
        srv.route("/feed.xml", Reply(body=rss([(srv.url("/new"), "n")])))
        srv.route(
            "/old",
            lambda req: Reply(status=304) if req.headers.get("If-Modified-Since") else html("<p>o</p>"),
        )
        srv.route("/changed", html("<p>changed</p>"))
        known = [
            KnownUrl(url=srv.url("/old"), last_modified="Mon, 06 Jan 2025 10:00:00 GMT"),
            KnownUrl(url=srv.url("/changed"), etag='"a"'),
        ]
        options = replace(FAST, only_urls=(srv.url("/old"), srv.url("/changed")))
        items, result = run_crawl(source(feeds=[srv.url("/feed.xml")]), tmp_path / "spool", known, options)
        assert srv.hits("/feed.xml") == 0 and srv.hits("/new") == 0
        assert [r.headers.get("If-None-Match") for r in srv.requests if r.path == "/changed"] == ['"a"']
    kinds = {i.url.rsplit("/", 1)[1]: (i.kind, i.discovered_via) for i in items if isinstance(i, Capture)}
    assert kinds == {"old": ("not_modified", "revisit"), "changed": ("page", "revisit")}
    assert result.ok, result.message


def test_a_crawl_over_its_time_limit_is_stopped_and_reported_not_ok(tmp_path: Path) -> None:
    with FaultServer() as srv:
        srv.route("/robots.txt", Reply(status=404))
        srv.route("/feed.xml", Reply(delay_s=60, body=b""))
        options = replace(FAST, timeout_s=6, download_timeout_s=60)
        items, result = run_crawl(source(feeds=[srv.url("/feed.xml")]), tmp_path / "spool", (), options)
    assert not result.ok
    # Closed by the spider's own deadline (stats written), not by the runner's kill.
    assert result.stats.get("finish_reason") == "closespider_timeout", result.message
    assert [(i.url, i.reason) for i in items] == [(srv.url("/feed.xml"), "timeout")]  # type: ignore[union-attr]
