"""The security floor of the crawler's Scrapy settings (RELIABILITY.md), as the subprocess builds them."""

from __future__ import annotations

import json
import subprocess
import sys

from scrapy.utils.conf import build_component_list

from crawlers.crawl_main import build_settings
from crawlers.job import CrawlJob
from tests.crawlers.crawl_sites import source


def _settings() -> dict[str, object]:
    job = CrawlJob(
        source=source(
            feeds=["https://a.example/feed"], download_delay=3, concurrency=2, allow_private_addresses=False
        ),
        spool_dir="/tmp/x",
        user_agent="scipol-test (test@example.org)",
        closespider_timeout_s=100,
    )
    return build_settings(job).copy_to_dict()


def test_only_http_and_https_have_download_handlers() -> None:
    handlers = _settings()["DOWNLOAD_HANDLERS"]
    assert isinstance(handlers, dict)
    assert all(handlers[scheme] is None for scheme in ("file", "data", "ftp", "s3"))
    assert handlers["http"] == handlers["https"] == "crawlers.middlewares.handler.PoliteHTTPDownloadHandler"


def test_remote_consoles_and_cookies_are_off_and_robots_obeyed() -> None:
    s = _settings()
    assert s["TELNETCONSOLE_ENABLED"] is False
    assert s["REMOTE_CONTROL_ENABLED"] is False
    assert s["COOKIES_ENABLED"] is False
    assert s["ROBOTSTXT_OBEY"] is True
    assert s["METAREFRESH_ENABLED"] is False


def test_per_source_politeness_and_limits_reach_scrapy() -> None:
    s = _settings()
    assert (s["DOWNLOAD_DELAY"], s["AUTOTHROTTLE_START_DELAY"], s["CONCURRENT_REQUESTS_PER_DOMAIN"]) == (
        3,
        3,
        2,
    )
    assert s["AUTOTHROTTLE_ENABLED"] is True
    assert s["USER_AGENT"] == "scipol-test (test@example.org)"
    assert s["DOWNLOAD_MAXSIZE"] == 10 * 1024 * 1024
    assert s["CLOSESPIDER_TIMEOUT"] == 100
    assert s["REDIRECT_MAX_TIMES"] == 5
    assert s["SCIPOL_ALLOW_PRIVATE_ADDRESSES"] is False
    assert s["LOG_LEVEL"] == "INFO"


def test_a_304_lowers_the_autothrottle_delay_like_a_200_but_an_error_does_not() -> None:
    from scrapy.core.downloader import Slot
    from scrapy.http import Response

    from crawlers.middlewares.throttle import RevisitAwareAutoThrottle

    throttle = RevisitAwareAutoThrottle.__new__(RevisitAwareAutoThrottle)
    throttle.target_concurrency, throttle.mindelay, throttle.maxdelay = 4.0, 0.0, 60.0

    def after(status: int) -> float:
        slot = Slot(concurrency=4, delay=1.0, jitter=0)  # raised by one slow answer
        throttle._adjust_delay(slot, 0.02, Response("http://127.0.0.1/a", status=status))
        return slot.delay

    assert after(200) == after(304) == (1.0 + 0.02 / 4) / 2  # halfway to latency / concurrency, as Scrapy
    assert after(404) == after(503) == 1.0  # error pages never speed the crawl up


def test_the_crawl_host_uses_our_throttle_and_few_item_workers() -> None:
    from crawlers.crawl_main import base_settings

    settings = base_settings()
    extensions = build_component_list(settings.get_component_priority_dict_with_base("EXTENSIONS"))
    assert "crawlers.middlewares.throttle.RevisitAwareAutoThrottle" in extensions
    assert "scrapy.extensions.throttle.AutoThrottle" not in extensions
    assert settings.getint("CONCURRENT_ITEMS") == 4


def test_switched_off_components_are_neither_run_nor_imported() -> None:
    # A fresh interpreter: what merging the component dicts imports, as a crawler's set-up does.
    probe = """
import json, sys
from scrapy.utils.conf import build_component_list
from crawlers.crawl_main import base_settings
settings = base_settings()
lists = {n: build_component_list(settings.get_component_priority_dict_with_base(n))
         for n in ("EXTENSIONS", "DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "ITEM_PIPELINES")}
print(json.dumps({"lists": lists, "modules": sorted(sys.modules)}))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    found = json.loads(done.stdout)
    enabled = {c for names in found["lists"].values() for c in names}
    assert {"crawlers.middlewares.throttle.RevisitAwareAutoThrottle", "crawlers.middlewares.deadline.CrawlDeadline",
            "crawlers.middlewares.safety.SafetyMiddleware", "crawlers.middlewares.redirect.GuardedRedirectMiddleware",
            "scrapy.extensions.corestats.CoreStats", "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware",
            "crawlers.pipelines.SpoolPipeline", "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware",
            "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware"} <= enabled
    switched_off = {"scrapy.extensions.telnet.TelnetConsole", "scrapy.extensions.throttle.AutoThrottle",
                    "scrapy.extensions.feedexport.FeedExporter",
                    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
                    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware",
                    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware",
                    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware",
                    "scrapy.spidermiddlewares.depth.DepthMiddleware",
                    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware"}
    assert not enabled & switched_off
    never_imported = {"scrapy.extensions.telnet", "twisted.conch", "scrapy.extensions.remote_control",
                      "scrapy.extensions.feedexport", "scrapy.downloadermiddlewares.httpcache",
                      "scrapy.downloadermiddlewares.cookies", "scrapy.extensions.memusage"}
    assert not never_imported & set(found["modules"])


def test_connections_to_private_addresses_are_refused_at_resolution_too() -> None:
    import pytest

    from crawlers.fetch_errors import classify_exception
    from crawlers.middlewares import resolver

    # The address each connection goes to is checked again (a rebinding name passes the middleware's
    # lookup with a public address, then answers with a private one).
    assert resolver.check_address("news.example.org", "93.184.216.34") == "93.184.216.34"
    for private in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.0.7", "::1"):
        with pytest.raises(resolver.PrivateAddressLookup) as refused:
            resolver.check_address("rebind.example.net", private)
        assert classify_exception(refused.value)[0] == "private_address"
    # Hosts of sources that allow private addresses (tests, the demo) keep working, subdomains too.
    resolver.allow_private_hosts(["intranet.example"])
    assert resolver.check_address("docs.intranet.example", "10.1.2.3") == "10.1.2.3"
    with pytest.raises(resolver.PrivateAddressLookup):
        resolver.check_address("intranet.example.evil.net", "10.1.2.3")
    from crawlers.crawl_main import base_settings

    assert base_settings()["TWISTED_DNS_RESOLVER"] == "crawlers.middlewares.resolver.PublicOnlyResolver"


def test_crawl_stats_count_as_scrapys_collector_without_the_per_access_shim() -> None:
    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.test import get_crawler

    from crawlers.crawl_main import base_settings
    from crawlers.stats import CrawlStats

    assert base_settings()["STATS_CLASS"] == "crawlers.stats.CrawlStats"
    crawler = get_crawler()
    ours, scrapys = CrawlStats(crawler), MemoryStatsCollector(crawler)
    for stats in (ours, scrapys):
        stats.inc_value("pages")
        stats.inc_value("pages", 2)
        stats.max_value("size", 10)
        stats.max_value("size", 5)
        stats.min_value("first", 3)
        stats.set_value("reason", "done")
    assert ours.get_stats() == scrapys.get_stats() == {"pages": 3, "size": 10, "first": 3, "reason": "done"}
    # The shim wraps each method on first access; ours hands out the plain bound method.
    assert type(scrapys).__getattribute__ is not object.__getattribute__
    assert ours.inc_value.__func__ is MemoryStatsCollector.inc_value
