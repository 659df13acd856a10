"""Scrapy settings of the scipol crawler. Per-source values (delay, concurrency, budget, user agent,
size and time limits) are set per crawl by `crawlers.job.CrawlJob.scrapy_settings()`.

Every value that differs from Scrapy's default says why.
"""

from __future__ import annotations

from scrapy.settings import default_settings as _scrapy_defaults

BOT_NAME = "scipol"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"
# Replaced per crawl by CrawlOptions.user_agent; this one still names the project and a contact.
USER_AGENT = "scipol/0.1 (science-policy news archive; contact: see project README)"

# --- Safety (RELIABILITY.md security floor) -----------------------------------------------------
# Only http(s) has a handler: file:, data:, ftp:, s3: URLs (and redirects to them) cannot be fetched.
DOWNLOAD_HANDLERS = {
    "file": None,
    "data": None,
    "ftp": None,
    "s3": None,
    "http": "crawlers.middlewares.handler.PoliteHTTPDownloadHandler",
    "https": "crawlers.middlewares.handler.PoliteHTTPDownloadHandler",
}
TELNETCONSOLE_ENABLED = False  # an open console on a crawler host is a remote shell
# Scrapy 2.19 starts an HTTP server that runs Python code sent to it (token in ~/): never on a crawler.
REMOTE_CONTROL_ENABLED = False
COOKIES_ENABLED = False  # news pages don't need sessions; cookies also track us
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024  # default 1 GiB; applies after decompression too (Scrapy >= 2.13.4)
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
DOWNLOAD_FAIL_ON_DATALOSS = True  # a body shorter than Content-Length is an error, never a page
DOWNLOAD_TIMEOUT = 30  # default 180 s: one hung server must not hold the crawl for minutes
DNS_TIMEOUT = 20
# Checks the address each connection is made to, not only the middleware's own lookup (DNS rebinding).
TWISTED_DNS_RESOLVER = "crawlers.middlewares.resolver.PublicOnlyResolver"
REDIRECT_MAX_TIMES = 5  # default 20
METAREFRESH_ENABLED = False  # meta-refresh loops (A9); article pages rarely need it
URLLENGTH_LIMIT = 2083

# --- Politeness -------------------------------------------------------------------------------
ROBOTSTXT_OBEY = True  # default False
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0  # per source: its `concurrency` (crawlers/job.py)
# Scrapy re-reads and parses every callback's source to warn about `return` in generators: 10% of a
# 304-only crawl's CPU (bench/RESULTS.md). Our callbacks are tested; the warning buys nothing.
WARN_ON_GENERATOR_RETURN_VALUE = False
DOWNLOAD_DELAY = 2.0  # default 0
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1  # default 8
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"  # default ERROR; a failed fetch is data (a FetchError), not a crash
# 408/429 and 5xx only; 4xx are answers, not accidents.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Timeouts and broken connections; DNS failures are not retried (they don't fix themselves in seconds).
RETRY_EXCEPTIONS = [
    "scrapy.exceptions.DownloadConnectionRefusedError",
    "scrapy.exceptions.DownloadFailedError",
    "scrapy.exceptions.DownloadTimeoutError",
    "scrapy.exceptions.ResponseDataLossError",
    "twisted.internet.error.ConnectionDone",
    "twisted.internet.error.ConnectError",
    "twisted.internet.error.ConnectionLost",
    "twisted.internet.error.TimeoutError",
]

DOWNLOADER_MIDDLEWARES = {
    # Our own offsite/scheme/private-address check replaces Scrapy's OffsiteMiddleware, which
    # lets dont_filter requests through (all of ours are dont_filter: the spider dedupes itself).
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "crawlers.middlewares.safety.SafetyMiddleware": 40,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawlers.middlewares.robots.RFC9309RobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawlers.middlewares.retry.BackoffRetryMiddleware": 550,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawlers.middlewares.compression.BoundedHttpCompressionMiddleware": 590,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawlers.middlewares.redirect.GuardedRedirectMiddleware": 600,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    # Never used (no cookies, no credentials, no HTTP cache): not loaded at all, rather than loaded
    # and switched off by a setting. Without the auth middleware no Authorization header can be sent.
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware": None,
}
SPIDER_MIDDLEWARES = {
    # Each spider middleware wraps the output of every response in one more async generator. Depth is
    # bounded by the spider itself (DEPTH_LIMIT below), so DepthMiddleware only kept depth statistics;
    # MetaCopyDetection warns about meta keys copied from a response, which our spider never does (it
    # builds each request's meta itself, crawlers/spiders/source.py).
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
}
EXTENSIONS = {
    # Replaced by CrawlDeadline (same CLOSESPIDER_TIMEOUT setting), which also cancels hung downloads.
    "scrapy.extensions.closespider.CloseSpider": None,
    "crawlers.middlewares.deadline.CrawlDeadline": 0,
    # Same AUTOTHROTTLE_* settings; a 304 may lower the delay like a 200 (crawlers/middlewares/throttle.py).
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crawlers.middlewares.throttle.RevisitAwareAutoThrottle": 0,
    # Off by the settings above and never wanted: not even imported (importing the remote-control
    # and telnet modules cost ~0.5 s of every crawl host's start-up).
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
    "scrapy.extensions.memusage.MemoryUsage": None,
    "scrapy.extensions.memdebug.MemoryDebugger": None,
    "scrapy.extensions.feedexport.FeedExporter": None,
    "scrapy.extensions.spiderstate.SpiderState": None,
}
# Scrapy imports every component its *_BASE and override dicts name while it merges them (to compare
# import paths), switched-off ones too: the telnet console (twisted.conch), remote control, feed
# export, HTTP cache, cookies, ... ~290 modules and 0.6 s of every crawl host's start-up, most of a run
# over an unchanged site. So a component switched off above is dropped from Scrapy's base dict, and
# the None entries are dropped from ours: the components that run are the same, and only they are
# imported (tests/crawlers/test_crawl_settings.py holds both to what the dicts above mean).
_DISABLED = frozenset(
    k for k, v in (*DOWNLOADER_MIDDLEWARES.items(), *SPIDER_MIDDLEWARES.items(), *EXTENSIONS.items()) if v is None
)
DOWNLOADER_MIDDLEWARES_BASE = {
    k: v for k, v in _scrapy_defaults.DOWNLOADER_MIDDLEWARES_BASE.items() if k not in _DISABLED
}
SPIDER_MIDDLEWARES_BASE = {
    k: v for k, v in _scrapy_defaults.SPIDER_MIDDLEWARES_BASE.items() if k not in _DISABLED
}
EXTENSIONS_BASE = {k: v for k, v in _scrapy_defaults.EXTENSIONS_BASE.items() if k not in _DISABLED}
DOWNLOADER_MIDDLEWARES = {k: v for k, v in DOWNLOADER_MIDDLEWARES.items() if v is not None}
SPIDER_MIDDLEWARES = {k: v for k, v in SPIDER_MIDDLEWARES.items() if v is not None}
EXTENSIONS = {k: v for k, v in EXTENSIONS.items() if v is not None}
ITEM_PIPELINES = {"crawlers.pipelines.SpoolPipeline": 100}
STATS_CLASS = "crawlers.stats.CrawlStats"  # MemoryStatsCollector minus a per-access shim (crawlers/stats.py)
# Scrapy (2.13+, asyncio) starts this many worker tasks for the output of *every* response, even
# when it is one item: at the default 100 that was ~1-2 ms of task churn per page, the largest cost
# of a 304-only crawl. Our pipeline is synchronous (a spool write), so 4 loses nothing.
CONCURRENT_ITEMS = 4
# Depth is bounded by the spider itself (sitemap depth = source.max_depth, listing max_pages, article
# links never followed); Scrapy's DepthMiddleware would drop requests without telling anyone (and is
# not loaded, SPIDER_MIDDLEWARES above).
DEPTH_LIMIT = 0

# --- Runtime -----------------------------------------------------------------------------------
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = "INFO"  # default DEBUG logs every request
LOGSTATS_INTERVAL = 60.0
HTTPCACHE_ENABLED = False
MEMUSAGE_ENABLED = False
FEEDS: dict[str, dict[str, str]] = {}
