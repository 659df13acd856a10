"""The crawl host: several sources crawled in one subprocess, each into its own spool and log."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from crawlers.runner import CrawlHost
from crawlers.spool import DONE_FILE, LOG_FILE
from schemas.capture import Capture
from tests.crawlers.crawl_sites import FAST, rss, source
from tests.support.httpserver import FaultServer, Reply, html

ARTICLE = "<html><head><title>{0}</title></head><body><article><p>{0} body text here.</p></article></body></html>"


def _site(srv: FaultServer, prefix: str, n: int, *, slow: bool = False) -> None:
    items = [(srv.url(f"/{prefix}/{i}"), f"{prefix} {i}") for i in range(n)]
    srv.route("/robots.txt", Reply(body=b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}))
    srv.route("/feed.xml", Reply(body=rss(items), headers={"Content-Type": "application/rss+xml"}))
    for i in range(n):
        reply = html(ARTICLE.format(f"{prefix} {i}"))
        srv.route(f"/{prefix}/{i}", replace(reply, delay_s=0.5) if slow else reply)


def test_two_sources_in_one_host_keep_their_records_and_logs_apart(tmp_path: Path) -> None:
    with FaultServer() as a, FaultServer() as b:
        _site(a, "alpha", 5)
        _site(b, "beta", 7)
        with CrawlHost(tmp_path / "host") as host:
            ha = host.start(source(id="site_a", feeds=[a.url("/feed.xml")]), tmp_path / "a", (), FAST)
            hb = host.start(source(id="site_b", feeds=[b.url("/feed.xml")]), tmp_path / "b", (), FAST)
            items_a, items_b = list(ha.iter_items()), list(hb.iter_items())
            ra, rb = ha.wait(), hb.wait()
            assert ha.pid == hb.pid == host.pid  # one process for both crawls
        assert host.returncode == 0  # closed stdin + no crawl left: the host exits by itself
    assert ra.ok and rb.ok, (ra, rb)
    urls_a = sorted(c.url for c in items_a if isinstance(c, Capture) and c.kind == "page")
    urls_b = sorted(c.url for c in items_b if isinstance(c, Capture) and c.kind == "page")
    assert urls_a == sorted(a.url(f"/alpha/{i}") for i in range(5))
    assert urls_b == sorted(b.url(f"/beta/{i}") for i in range(7))
    assert {c.source_id for c in items_a} == {"site_a"} and {c.source_id for c in items_b} == {"site_b"}
    log_a = (tmp_path / "a" / LOG_FILE).read_text()
    log_b = (tmp_path / "b" / LOG_FILE).read_text()
    # Each crawl's lines land in its own log, tagged with its source, never in the other's.
    assert "[site_a] crawlers.spiders.source INFO: site_a: feed" in log_a
    assert "[site_b] crawlers.spiders.source INFO: site_b: feed" in log_b
    assert "site_b" not in log_a and "site_a" not in log_b
    # Components we never use are not even loaded (remote consoles, cookies, auth).
    assert "Enabled extensions" in log_a and "Enabled downloader middlewares" in log_a
    for unused in ("RemoteControl", "TelnetConsole", "CookiesMiddleware", "HttpAuthMiddleware"):
        assert unused not in log_a
    assert json.loads((tmp_path / "a" / DONE_FILE).read_text()) == {"ok": True, "error": ""}


def test_stopping_one_crawl_leaves_the_other_running(tmp_path: Path) -> None:
    with FaultServer() as a, FaultServer() as b:
        _site(a, "slow", 40, slow=True)
        _site(b, "fast", 5)
        with CrawlHost(tmp_path / "host") as host:
            slow = host.start(source(id="slow_site", feeds=[a.url("/feed.xml")]), tmp_path / "a", (), FAST)
            fast = host.start(source(id="fast_site", feeds=[b.url("/feed.xml")]), tmp_path / "b", (), FAST)
            first = next(iter(slow.iter_items()))  # the slow crawl is under way
            slow.kill()
            fast_items = list(fast.iter_items())
            slow_result, fast_result = slow.wait(), fast.wait()
            assert host.alive() or host.returncode == 0  # stopping a crawl never killed the host
    assert first.source_id == "slow_site"
    assert not slow_result.ok and "killed by the caller" in slow_result.message
    assert slow_result.stats.get("finish_reason") == "shutdown"
    fetched = sum(a.hits(f"/slow/{i}") for i in range(40))
    assert fetched < 10, fetched  # it really stopped fetching (40 pages at 0.5 s each otherwise)
    assert fast_result.ok, fast_result
    assert len([c for c in fast_items if isinstance(c, Capture) and c.kind == "page"]) == 5


def test_an_unreadable_job_fails_that_crawl_only(tmp_path: Path) -> None:
    with FaultServer() as b:
        _site(b, "ok", 2)
        with CrawlHost(tmp_path / "host") as host:
            bad = tmp_path / "bad"
            bad.mkdir()
            (bad / "job.json").write_text("{not json")
            assert host.send(f"start {bad / 'job.json'}")
            good = host.start(source(id="good_site", feeds=[b.url("/feed.xml")]), tmp_path / "b", (), FAST)
            items = list(good.iter_items())
            assert good.wait().ok
    done = json.loads((bad / DONE_FILE).read_text())
    assert done["ok"] is False and "cannot read crawl job" in done["error"]
    assert len([c for c in items if isinstance(c, Capture) and c.kind == "page"]) == 2


def test_the_host_imports_its_crawl_components_before_the_first_job_arrives() -> None:
    """A crawler loads its middlewares, queues and robots parser when it starts; the host loads them while it
    waits for its first job, so a run over an unchanged site does not wait for them (~35 ms)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).parents[2]
    code = (
        "import json, sys\n"
        "from crawlers.crawl_main import base_settings, preload_components\n"
        "lazy = ['crawlers.middlewares.handler', 'crawlers.middlewares.robots', 'crawlers.stats',\n"
        "        'scrapy.pqueues', 'scrapy.downloadermiddlewares.retry', 'scrapy.extensions.corestats']\n"
        "before = [m in sys.modules for m in lazy]\n"
        "loaded = preload_components(base_settings())\n"
        "print(json.dumps([before, [m in sys.modules for m in lazy], loaded]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    before, after, loaded = json.loads(done.stdout)
    assert not any(before)  # importing the host module alone does not load them
    assert all(after) and loaded >= 25
    # The host does it first thing, before reading any command (stdin closed at once: it exits).
    host = subprocess.run([sys.executable, "-m", "crawlers.crawl_main", "DEBUG"], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120, cwd=root)
    assert host.returncode == 0, host.stderr[-2000:]
    assert "preloaded" in host.stderr and "crawl components" in host.stderr


def test_the_host_tells_the_runner_at_once_when_a_crawl_has_ended(tmp_path: Path) -> None:
    import time

    with FaultServer() as a:
        _site(a, "quick", 2)
        with CrawlHost(tmp_path / "host") as host:
            handle = host.start(source(id="quick_site", feeds=[a.url("/feed.xml")]), tmp_path / "a", (), FAST)
            deadline = time.monotonic() + 60
            while not handle.done() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert handle.done()
            # The host is still up (its stdin is open): only its notice, not its exit, can have said so.
            assert handle.ended.wait(10)
            assert host.alive()
            assert handle.wait().ok


def test_a_host_that_dies_wakes_every_crawl_waiting_on_it(tmp_path: Path) -> None:
    with FaultServer() as a:
        _site(a, "slow", 20, slow=True)
        with CrawlHost(tmp_path / "host") as host:
            handle = host.start(source(id="slow_site", feeds=[a.url("/feed.xml")]), tmp_path / "a", (), FAST)
            next(iter(handle.iter_items()))  # under way
            assert not handle.ended.is_set()
            host.kill()
            assert handle.ended.wait(10)
            assert not handle.done()  # it never finished: the host's exit woke it
            assert not handle.wait().ok
