"""Source health: is each configured site still crawlable and extractable the way ingest expects?

For each source: one real crawl (the same subprocess, middlewares and politeness as ingest) with a page
budget of the entry points plus a couple of articles, then extraction of what it fetched, judged into
findings: unreachable, blocked by robots.txt, no articles listed, articles not fetchable, extraction
empty, or the source's own boilerplate rules matching nothing (the template changed). Plain Python:
`scipol check-sources` calls it directly and the `canary` flow wraps it in tasks.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Literal, get_args
from urllib.parse import urldefrag, urlsplit

from pydantic import BaseModel, Field, computed_field

from crawlers.extract import extract_capture
from crawlers.extract.rule_hits import cleaning_report
from crawlers.runner import CrawlOptions, CrawlResult, run_crawl
from flows import config
from schemas import Capture, FetchError, SourceConfig

log = logging.getLogger(__name__)

# Most severe first: a source's status is its first finding in this order (STATUS_ORDER).
HealthStatus = Literal[
    "crawl_failed",
    "blocked_by_robots",
    "unreachable",
    "no_articles",
    "article_fetch_failed",
    "extraction_empty",
    "entry_point_failed",
    "rules_not_matching",
    "ok",
]
Severity = Literal["ok", "warning", "broken"]

STATUS_ORDER: tuple[HealthStatus, ...] = get_args(HealthStatus)
SEVERITY: dict[HealthStatus, Severity] = {
    "ok": "ok",
    # Extraction still works, but the boilerplate the rules were written for may now leak into text.
    "rules_not_matching": "warning",
    **{s: "broken" for s in STATUS_ORDER if s not in ("ok", "rules_not_matching")},
}

DEFAULT_ARTICLES = 2
DEFAULT_TIMEOUT_S = 120.0
# Slack in the page budget for retries and redirect hops (the download handler counts those too).
_BUDGET_SLACK = 2


class Finding(BaseModel):
    status: HealthStatus
    detail: str
    url: str | None = None
    http_status: int | None = None


class EntryPointCheck(BaseModel):
    url: str
    role: Literal["feed", "sitemap", "listing"]
    ok: bool
    """Fetched and parsed (False when a fetch error or parse error names this URL)."""
    reason: str | None = None
    http_status: int | None = None
    message: str = ""


class ArticleCheck(BaseModel):
    url: str
    outcome: str
    """page / gone / non_html / not_modified, or the fetch error reason (robots, http_status, ...)."""
    http_status: int | None = None
    bytes: int = 0
    extracted: bool = False
    chars: int = 0
    title: str | None = None


class SourceHealth(BaseModel):
    source_id: str
    name: str = ""
    status: HealthStatus = "ok"
    findings: list[Finding] = Field(default_factory=list)
    entry_points: list[EntryPointCheck] = Field(default_factory=list)
    articles: list[ArticleCheck] = Field(default_factory=list)
    more_links: int = 0
    """Article links found but not fetched because the check's page budget was spent."""
    rules_total: int = 0
    rules_matched: list[str] = Field(default_factory=list)
    rules_unmatched: list[str] = Field(default_factory=list)
    requests_sent: int = 0
    duration_s: float = 0.0
    crawl_message: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def severity(self) -> Severity:
        return SEVERITY[self.status]

    def summary(self) -> str:
        """One line of counts: what was reached, fetched, extracted and matched."""
        ok_entries = sum(1 for e in self.entry_points if e.ok)
        fetched = sum(1 for a in self.articles if a.outcome in ("page", "non_html"))
        extracted = sum(1 for a in self.articles if a.extracted)
        parts = [
            f"entry points {ok_entries}/{len(self.entry_points)} ok",
            f"articles {fetched} fetched, {extracted} extracted"
            + (f" (+{self.more_links} more listed)" if self.more_links else ""),
        ]
        if self.rules_total:
            parts.append(f"rules {len(self.rules_matched)}/{self.rules_total} matched")
        parts.append(f"{self.requests_sent} requests, {self.duration_s:.1f} s")
        return ", ".join(parts)


class HealthReport(BaseModel):
    checked_at: datetime
    sources: list[SourceHealth] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def broken(self) -> list[str]:
        return [s.source_id for s in self.sources if s.severity == "broken"]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def warnings(self) -> list[str]:
        return [s.source_id for s in self.sources if s.severity == "warning"]

    def failed(self, *, strict: bool = False) -> bool:
        """Whether the check fails (exit 1, a failed canary run): any broken source; with `strict`, any
        warning too."""
        return bool(self.broken or (strict and self.warnings))


# --- checking ------------------------------------------------------------------------------------


def sample_source(source: SourceConfig, articles: int = DEFAULT_ARTICLES) -> SourceConfig:
    """The source with a page budget of its entry points, robots.txt, `articles` articles and a little
    slack; never more than its own budget. Everything else (delay, concurrency, filters) is unchanged."""
    entries = [*source.feeds, *source.sitemaps, *(p.url for p in source.listing_pages)]
    hosts = {(urlsplit(u).hostname or "", urlsplit(u).port) for u in entries}
    budget = len(entries) + len(hosts) + max(1, articles) + _BUDGET_SLACK
    return source.model_copy(update={"page_budget": min(source.page_budget, budget)})


def check_source(
    source: SourceConfig,
    *,
    articles: int = DEFAULT_ARTICLES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    options: CrawlOptions | None = None,
) -> SourceHealth:
    """Crawl a small sample of one source and judge it. Never raises for a broken site.

    `options` overrides the crawl options (tests shorten retries); discovery always runs (no
    `only_urls`) and ignores the look-back window, so a quiet site still yields an article to check.
    """
    started = time.monotonic()
    sampled = sample_source(source, articles)
    # A slow source (a long download_delay) gets the time its own politeness needs for the sample.
    timeout_s = max(timeout_s, sampled.page_budget * sampled.download_delay + 60.0)
    base = options or CrawlOptions(user_agent=config.user_agent(), timeout_s=timeout_s)
    crawl_options = dataclasses.replace(base, backfill=True, only_urls=())
    spool = config.spool_root() / f"check-{source.id}-{uuid.uuid4().hex[:8]}"
    try:
        items, result = run_crawl(sampled, spool, (), crawl_options)
        health = assess(source, items, result)
    except Exception as exc:  # noqa: BLE001 - one broken check never stops the others
        log.exception("health check of source=%s failed", source.id)
        health = SourceHealth(source_id=source.id, name=source.name)
        health.findings.append(Finding(status="crawl_failed", detail=f"{type(exc).__name__}: {exc}"))
        _settle(health)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    health.duration_s = round(time.monotonic() - started, 3)
    log.info("source=%s health %s: %s", source.id, health.status, health.summary())
    return health


def check_sources(
    sources: Sequence[SourceConfig],
    *,
    articles: int = DEFAULT_ARTICLES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    parallel: int = 4,
    options: CrawlOptions | None = None,
) -> HealthReport:
    """Check several sources side by side (each crawl is its own subprocess); report in input order."""
    report = HealthReport(checked_at=datetime.now(UTC))
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(sources) or 1))) as pool:
        futures = [
            pool.submit(check_source, s, articles=articles, timeout_s=timeout_s, options=options)
            for s in sources
        ]
        report.sources = [f.result() for f in futures]
    return report


# --- judging -------------------------------------------------------------------------------------


def _key(url: str) -> str:
    # The spider names an entry point's errors by its configured URL, stripped and without fragment.
    return urldefrag(url.strip())[0]


def _entry_points(source: SourceConfig) -> dict[str, Literal["feed", "sitemap", "listing"]]:
    roles: dict[str, Literal["feed", "sitemap", "listing"]] = {}
    for url in source.feeds:
        roles.setdefault(_key(url), "feed")
    for url in source.sitemaps:
        roles.setdefault(_key(url), "sitemap")
    for page in source.listing_pages:
        roles.setdefault(_key(page.url), "listing")
    return roles


def _describe_error(err: FetchError) -> str:
    if err.reason == "http_status" and err.status:
        return f"HTTP {err.status}"
    return f"{err.reason}: {err.message}" if err.message and err.message != err.reason else err.reason


def _stat(result: CrawlResult, key: str) -> int:
    try:
        return int(result.stats.get(key, 0))
    except (TypeError, ValueError):
        return 0


def _robots_detail(result: CrawlResult) -> str:
    statuses = sorted(
        k.rsplit("/", 1)[1] for k in result.stats if k.startswith("robotstxt/response_status_count/")
    )
    if _stat(result, "robotstxt/unreachable"):
        return "robots.txt unreachable: disallow all (RFC 9309)"
    server_errors = [s for s in statuses if s.isdigit() and (int(s) >= 500 or int(s) == 429)]
    if server_errors:
        return f"robots.txt answered {', '.join(server_errors)}: disallow all (RFC 9309)"
    return "disallowed by robots.txt"


def assess(source: SourceConfig, items: Sequence[Capture | FetchError], result: CrawlResult) -> SourceHealth:
    """Judge one sample crawl: extract what was fetched and turn what went wrong into findings."""
    health = SourceHealth(
        source_id=source.id,
        name=source.name,
        requests_sent=_stat(result, "scipol/requests_sent"),
        more_links=_stat(result, "scipol/budget/dropped"),
        crawl_message=result.message,
    )
    roles = _entry_points(source)
    entry_errors: dict[str, FetchError] = {}
    article_errors: list[FetchError] = []
    captures: list[Capture] = []
    for item in items:
        if isinstance(item, Capture):
            captures.append(item)
        elif _key(item.url) in roles:
            entry_errors.setdefault(_key(item.url), item)
        elif item.reason != "budget":  # never sent: the check's own budget, not the site's fault
            article_errors.append(item)

    for url, role in roles.items():
        err = entry_errors.get(url)
        health.entry_points.append(
            EntryPointCheck(url=url, role=role, ok=err is None, reason=err.reason if err else None,
                            http_status=err.status if err else None, message=err.message if err else "")
        )
    _judge_entry_points(health, roles, entry_errors, result)
    _judge_articles(health, source, captures, article_errors, result)
    if not result.ok and not any(SEVERITY[f.status] == "broken" for f in health.findings):
        health.findings.append(Finding(status="crawl_failed", detail=result.message or "crawl failed"))
    _settle(health)
    return health


def _network_errors(result: CrawlResult) -> str:
    """The download exceptions of a crawl in words ("connection refused"), from Scrapy's stats."""
    prefix = "downloader/exception_type_count/"
    words = []
    for key in sorted(result.stats):
        if not key.startswith(prefix) or key.endswith(".FetchRefused"):
            continue
        name = key[len(prefix):].rsplit(".", 1)[-1]
        if "ConnectionRefused" in name:
            words.append("connection refused")
        elif "Timeout" in name or "TimedOut" in name:
            words.append("timeout")
        elif "DNS" in name or "Resolve" in name:
            words.append("dns lookup failed")
        else:
            words.append(name)
    return ", ".join(dict.fromkeys(words)) or "no response"


def _robots_unreachable(result: CrawlResult) -> bool:
    # RFC 9309 makes an unreachable robots.txt "disallow all", so a dead host shows up as a robots
    # refusal; when robots.txt never got any answer, the host is what is broken, not the rules.
    answered = any(k.startswith("robotstxt/response_status_count/") for k in result.stats)
    return _stat(result, "robotstxt/unreachable") > 0 and not answered


def _judge_entry_points(
    health: SourceHealth, roles: Mapping[str, str], errors: dict[str, FetchError], result: CrawlResult
) -> None:
    robots = {u: e for u, e in errors.items() if e.reason == "robots"}
    host_down = _robots_unreachable(result)
    for url in robots:
        if host_down:
            health.findings.append(Finding(
                status="unreachable", url=url,
                detail=f"{roles[url]} {url}: host unreachable ({_network_errors(result)} on robots.txt)"))
        else:
            health.findings.append(Finding(status="blocked_by_robots", url=url,
                                           detail=f"{roles[url]} {url}: {_robots_detail(result)}"))
    fetch_failed = {u: e for u, e in errors.items() if e.reason not in ("robots", "parse", "budget")}
    fetched_ok = _stat(result, "scipol/entry_points/ok")
    status: HealthStatus = "unreachable" if fetched_ok == 0 else "entry_point_failed"
    for url, err in fetch_failed.items():
        health.findings.append(Finding(status=status, url=url, http_status=err.status,
                                       detail=f"{roles[url]} {url}: {_describe_error(err)}"))
    for url, err in errors.items():
        if err.reason == "parse":
            health.findings.append(Finding(status="entry_point_failed", url=url, http_status=err.status,
                                           detail=f"{roles[url]} {url}: unreadable ({err.message})"))


def _judge_articles(
    health: SourceHealth,
    source: SourceConfig,
    captures: list[Capture],
    errors: list[FetchError],
    result: CrawlResult,
) -> None:
    fetched_entries = _stat(result, "scipol/entry_points/ok") > 0
    for err in errors:
        health.articles.append(ArticleCheck(url=err.url, outcome=err.reason, http_status=err.status))
    pages: list[Capture] = []
    for cap in captures:
        check = ArticleCheck(url=cap.url, outcome=cap.kind, http_status=cap.status,
                             bytes=len(cap.body or b""))
        if cap.kind == "page" and cap.body is not None:
            record = extract_capture(cap, source)
            if record is not None:
                check.extracted, check.chars, check.title = True, len(record.text), record.title
                pages.append(cap)
        health.articles.append(check)

    if not health.articles and not health.more_links:
        if fetched_entries:
            health.findings.append(Finding(status="no_articles", detail=_no_articles_detail(result)))
        return
    robots = [e for e in errors if e.reason == "robots"]
    if robots:
        health.findings.append(Finding(status="blocked_by_robots", url=robots[0].url,
                                       detail=f"article {robots[0].url}: {_robots_detail(result)}"))
    fetched = [a for a in health.articles if a.outcome in ("page", "non_html")]
    if health.articles and not fetched and not robots:
        failures = "; ".join(
            f"{a.url} ({f'HTTP {a.http_status}' if a.http_status else a.outcome})"
            for a in health.articles[:3]
        )
        first = health.articles[0]
        health.findings.append(Finding(
            status="article_fetch_failed", url=first.url, http_status=first.http_status,
            detail=f"none of {len(health.articles)} sampled article(s) could be fetched: {failures}"))
        return
    if fetched and not pages:
        what = "; ".join(
            f"{a.url} ({a.outcome}, HTTP {a.http_status}, {a.bytes} bytes)" for a in fetched[:3]
        )
        health.findings.append(Finding(
            status="extraction_empty", url=fetched[0].url, http_status=fetched[0].http_status,
            detail=f"no article text extracted from {len(fetched)} fetched page(s): {what}"))
        return
    _judge_rules(health, source, pages)


def _no_articles_detail(result: CrawlResult) -> str:
    skipped = {
        name: _stat(result, f"scipol/discovery/{name}")
        for name in ("filtered", "offsite", "too_old", "bad_url", "duplicate")
    }
    why = ", ".join(f"{n} {k}" for k, n in skipped.items() if n)
    listed = "the feeds/sitemaps/listing pages answered but listed no article URLs"
    return f"{listed} ({why})" if why else listed


def _judge_rules(health: SourceHealth, source: SourceConfig, pages: list[Capture]) -> None:
    totals: dict[tuple[str, str], int] = {}
    for cap in pages:
        report = cleaning_report(cap.body or b"", url=cap.final_url or cap.url, source=source,
                                 headers=cap.headers)
        for hit in report.hits:
            totals[(hit.kind, hit.rule)] = totals.get((hit.kind, hit.rule), 0) + hit.matches
    health.rules_total = len(totals)
    health.rules_matched = [f"{kind} {rule!r}" for (kind, rule), n in totals.items() if n]
    health.rules_unmatched = [f"{kind} {rule!r}" for (kind, rule), n in totals.items() if not n]
    if totals and not health.rules_matched:
        health.findings.append(Finding(
            status="rules_not_matching", url=pages[0].url,
            detail=f"none of the source's {len(totals)} cleaning rule(s) matched the {len(pages)} sampled "
                   f"article(s); the template may have changed: {', '.join(health.rules_unmatched)}"))


def _settle(health: SourceHealth) -> None:
    found = {f.status for f in health.findings}
    health.status = next((s for s in STATUS_ORDER if s in found), "ok")
    health.findings.sort(key=lambda f: STATUS_ORDER.index(f.status))


# --- presenting ----------------------------------------------------------------------------------


def format_health(report: HealthReport) -> str:
    """Plain text: one status line per source, its findings indented under it, and a total."""
    lines: list[str] = []
    for s in report.sources:
        lines.append(f"{s.status:<20} {s.source_id:<24} {s.summary()}")
        lines.extend(f"    {f.status}: {f.detail}" for f in s.findings)
    ok = sum(1 for s in report.sources if s.severity == "ok")
    lines.append(f"{len(report.sources)} source(s): {ok} ok, {len(report.warnings)} warning(s), "
                 f"{len(report.broken)} broken" + (f" ({', '.join(report.broken)})" if report.broken else ""))
    return "\n".join(lines)


def health_rows(report: HealthReport) -> list[dict[str, object]]:
    """One table row per source (the canary's Prefect artifact)."""
    return [
        {
            "source": s.source_id,
            "status": s.status,
            "severity": s.severity,
            "entry_points_ok": f"{sum(1 for e in s.entry_points if e.ok)}/{len(s.entry_points)}",
            "articles_fetched": sum(1 for a in s.articles if a.outcome in ("page", "non_html")),
            "articles_extracted": sum(1 for a in s.articles if a.extracted),
            "rules_matched": f"{len(s.rules_matched)}/{s.rules_total}" if s.rules_total else "-",
            "details": " | ".join(f.detail for f in s.findings) or "-",
            "duration_s": s.duration_s,
        }
        for s in report.sources
    ]
