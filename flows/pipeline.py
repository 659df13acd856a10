"""One source, end to end: crawl in a subprocess, extract in a process pool, store in batches.

This is plain Python with no Prefect import, so `scipol ingest` runs it directly and the Prefect
flows in `flows.ingest` wrap it in tasks. Batching is deliberate: one Prefect task per article
costs ~16 ms of orchestration each (STACK_NOTES.md), so a task here is a whole source.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Literal

from sqlalchemy.exc import OperationalError

from crawlers.runner import CrawlHost, CrawlOptions, start_crawl
from flows import config
from flows.extraction import Extracted, ExtractionPool
from schemas import Capture, FetchError, SourceConfig, SourceRunStats
from storage.archive import Archive

log = logging.getLogger(__name__)

# What each storage outcome adds to the run report.
_OUTCOME_COUNTERS: dict[str, tuple[str, ...]] = {
    "new": ("new_articles", "new_versions"),
    "duplicate": ("new_articles", "new_versions", "duplicates"),
    "edited": ("new_versions",),
    "reappeared": ("new_versions",),
    "reextracted": ("new_versions",),
    "unchanged": ("unchanged",),
    "not_modified": ("not_modified",),
    "removed": ("removals",),
}


@dataclass(frozen=True)
class IngestOptions:
    backfill: bool = False
    dry_run: bool = False
    """Crawl and extract, store nothing."""
    only_urls: tuple[str, ...] = ()
    """Revisit mode: fetch these URLs only (conditionally), no discovery."""
    timeout_s: float = 1800.0
    lookback_days: int | None = None
    max_bytes: int = 10 * 1024 * 1024
    recheck_known: Literal["changed", "all"] | None = None
    """Overrides every source's `recheck_known` for this run (`all`: one conditional request per
    known article listed by discovery)."""


def _warming(items: Iterable[Capture | FetchError], extractor: ExtractionPool) -> Iterator[Capture | FetchError]:
    """The items, starting the extraction workers at the first page."""
    warmed = False
    for item in items:
        if not warmed and isinstance(item, Capture) and item.kind == "page":
            extractor.warm()
            warmed = True
        yield item


_FIRST_BATCH = 8
"""Size of a source's first batch; each next one doubles, up to the configured size."""


def _batches(items: Iterable[Capture | FetchError], size: int) -> Iterator[list[Capture | FetchError]]:
    """The items in batches of `size`, the first ones smaller (8, 16, 32, ...).

    The workers extract nothing until a source's first batch is full: with 8 sources crawled at once,
    a batch of 50 took a source ~1 s of crawling to fill, and the workers, warm by then, waited for it
    (bench/RESULTS.md). Small first batches cost a few more store transactions per source.
    """
    it = iter(items)
    current = min(size, _FIRST_BATCH)
    while batch := list(islice(it, current)):
        yield batch
        current = min(size, current * 2)


def ingest_source(
    source: SourceConfig,
    archive: Archive | None,
    *,
    run_id: str,
    options: IngestOptions | None = None,
    extractor: ExtractionPool | None = None,
    crawl_host: CrawlHost | None = None,
) -> SourceRunStats:
    """Crawl one source and store what it yields. Never raises for a broken site: errors are counted.

    `archive` may be None only with `dry_run`. A run over several sources passes one `crawl_host`
    (and one `extractor`) to all of them; without, the source gets a crawl process of its own.
    """
    options = options or IngestOptions()
    stats = SourceRunStats(source_id=source.id)
    started = time.monotonic()
    if options.lookback_days is not None:
        source = source.model_copy(update={"lookback_days": options.lookback_days})
    if options.recheck_known is not None:
        source = source.model_copy(update={"recheck_known": options.recheck_known})
    own_extractor = extractor is None
    extractor = extractor or ExtractionPool(config.extract_workers())
    spool = config.spool_root() / f"{run_id}-{source.id}-{uuid.uuid4().hex[:8]}"
    spool.mkdir(parents=True, exist_ok=True)
    lock = archive.source_lock(source.id) if archive is not None and not options.dry_run else nullcontext(True)
    try:
        with lock as locked:
            if not locked:
                stats.status = "skipped"
                stats.message = "another run is crawling this source"
                log.warning("source=%s skipped: another run is crawling it", source.id)
                return stats
            _crawl_and_store(source, archive, spool, run_id, options, extractor, stats, crawl_host)
    except Exception as exc:  # noqa: BLE001 - one broken source never stops the others
        log.exception("source=%s failed", source.id)
        stats.status = "failed"
        stats.message = f"{type(exc).__name__}: {exc}"
        stats.retryable = isinstance(exc, OperationalError)
        stats.count_error("database" if stats.retryable else "other")
    finally:
        if own_extractor:
            extractor.close()
        shutil.rmtree(spool, ignore_errors=True)
        stats.duration_s = round(time.monotonic() - started, 3)
    return stats


def _crawl_and_store(
    source: SourceConfig,
    archive: Archive | None,
    spool: Path,
    run_id: str,
    options: IngestOptions,
    extractor: ExtractionPool,
    stats: SourceRunStats,
    crawl_host: CrawlHost | None = None,
) -> None:
    handle = None
    try:
        known = [] if archive is None or options.dry_run else list(archive.known_urls(source.id))
        if not known:
            # Nothing of this source fetched before: its crawl will yield pages, so the workers start
            # importing now, beside the crawl host's start-up, rather than at its first page (~1 s later).
            extractor.warm()
        crawl_options = CrawlOptions(
            user_agent=config.user_agent(),
            timeout_s=options.timeout_s,
            backfill=options.backfill,
            only_urls=options.only_urls,
            max_bytes=options.max_bytes,
        )
        if crawl_host is not None and crawl_host.alive():
            handle = crawl_host.start(source, spool, known, crawl_options)
        else:
            handle = start_crawl(source, spool, known, crawl_options)
        # Pipelined: batch N+1 is extracted in the workers while batch N is stored here.
        pending: tuple[list[Capture | FetchError], Callable[[], list[Extracted]]] | None = None
        # Page bodies stay in the spool (removed when this source is done, after its last batch is stored):
        # the extraction workers read them, so this process never reads, hashes or pickles them.
        items = handle.iter_items(defer_page_bodies=True)
        for batch in _batches(_warming(items, extractor), config.batch_size()):
            pages = [c for c in batch if isinstance(c, Capture) and c.kind == "page"]
            submitted = (batch, extractor.submit(pages, source))
            if pending is not None:
                _store_batch(*pending, source, archive, run_id, options, stats)
            pending = submitted
        if pending is not None:
            _store_batch(*pending, source, archive, run_id, options, stats)
        result = handle.wait()
        stats.known_skipped += int(result.stats.get("scipol/known/skipped", 0))
        if not result.ok:
            stats.status = "failed" if stats.pages_fetched == 0 else "ok"
            stats.message = result.message
            log.warning("crawl of source=%s ended badly: %s", source.id, result.message)
    finally:
        if handle is not None:
            handle.kill()  # no-op when it has exited; stops it when storing failed mid-crawl
            forward_crawl_log(handle.log_path, source.id)


# `%(asctime)s [source] %(name)s %(levelname)s: %(message)s`, crawlers.crawl_log.LOG_FORMAT.
_LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[(?P<src>[^\]]*)\] (?P<name>\S+) (?P<level>[A-Z]+): (?P<msg>.*)$"
)
_crawl_log = logging.getLogger("crawlers.crawl")


def forward_crawl_log(path: Path, source_id: str) -> None:
    """Re-emit the crawl subprocess's own log lines (ours, and Scrapy's warnings) in this process.

    The crawl logs to a file in its spool (a subprocess cannot write to Prefect's log handler);
    forwarding through the `crawlers` logger puts them in the Prefect run log (extra loggers).
    """
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    for line in lines:
        m = _LOG_LINE.match(line)
        if m is None:
            continue  # continuation lines of Scrapy's multi-line start-up dumps
        level = logging.getLevelName(m["level"])
        if not isinstance(level, int):
            continue
        if level >= logging.WARNING or m["name"].startswith("crawlers"):
            _crawl_log.log(level, "source=%s %s: %s", source_id, m["name"], m["msg"])


def _store_batch(
    batch: list[Capture | FetchError],
    extracted: Callable[[], list[Extracted]],
    source: SourceConfig,
    archive: Archive | None,
    run_id: str,
    options: IngestOptions,
    stats: SourceRunStats,
) -> None:
    captures = [item for item in batch if isinstance(item, Capture)]
    errors = [item for item in batch if isinstance(item, FetchError)]
    for err in errors:
        stats.count_error(err.reason)
        log.info("fetch failed source=%s url=%s reason=%s %s", err.source_id, err.url, err.reason, err.message)
    stats.pages_fetched += len(captures)
    pages = [c for c in captures if c.kind == "page"]
    by_page = dict(zip((id(c) for c in pages), extracted(), strict=True))
    pairs = [(c, by_page[id(c)][0] if id(c) in by_page else None) for c in captures]
    precomputed = [by_page[id(c)][1] if id(c) in by_page else None for c in captures]
    if options.dry_run or archive is None:
        for c, rec in pairs:
            if c.kind == "page" and rec is None:
                stats.count_error("extract")
        return
    if errors:
        archive.record_errors(errors, run_id=run_id)
    outcomes = archive.store(pairs, run_id=run_id, precomputed=precomputed)
    for (capture, _record), outcome in zip(pairs, outcomes, strict=True):
        for counter in _OUTCOME_COUNTERS.get(outcome, ()):
            setattr(stats, counter, getattr(stats, counter) + 1)
        if outcome == "no_text":
            stats.count_error("extract")
        elif outcome == "error":
            stats.count_error("store")
        if outcome in ("new", "edited", "reappeared", "duplicate", "removed"):
            # The run log names every article a run changed (tests/flows/test_deployments.py); the crawl's
            # own line per fetched page is DEBUG, so a stored page is one line, not two.
            log.info("stored source=%s url=%s outcome=%s", source.id, capture.url, outcome)


@contextmanager
def shared_crawl_host(run_id: str, host: CrawlHost | None = None) -> Iterator[CrawlHost]:
    """One crawl process for every source of a run: Scrapy's start-up is paid once, not per source.

    Create it in the thread that lives as long as the run (the host dies with that thread's process).
    `host`: one started earlier with `start_crawl_host` (the CLI starts it before its own imports, so
    the two start-ups overlap); it is closed here all the same.
    """
    host = host or start_crawl_host(run_id)
    try:
        yield host
    finally:
        close_crawl_host(host)


def start_crawl_host(run_id: str) -> CrawlHost:
    return CrawlHost(config.spool_root() / f"{run_id}-host")


def close_crawl_host(host: CrawlHost) -> None:
    """Let the host finish its crawls and exit; keep its directory (and log) only when it failed."""
    rc = host.close(timeout_s=60.0)
    if rc is None:
        log.warning("crawl host pid %d still running 60 s after the run: killing it", host.pid)
        host.kill()
        rc = host.returncode
    if rc == 0:
        shutil.rmtree(host.work_dir, ignore_errors=True)
    else:
        log.warning("crawl host exited with %s; its log is kept: %s", rc, host.log_path)


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]

