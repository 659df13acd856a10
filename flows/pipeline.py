"""One source, end to end: crawl in a subprocess, extract in a process pool, store in batches.

This is plain Python with no Prefect import, so `scipol ingest` runs it directly and the Prefect
flows in `flows.ingest` wrap it in tasks. Batching is deliberate: one Prefect task per article
costs ~16 ms of orchestration each (STACK_NOTES.md), so a task here is a whole source.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Literal

from sqlalchemy.exc import OperationalError

from crawlers.runner import CrawlHost, CrawlOptions, start_crawl
from flows import config
from schemas import ArticleRecord, Capture, FetchError, SourceConfig, SourceRunStats
from storage import dedupe
from storage.archive import Archive
from storage.dedupe import Signature

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


Extracted = tuple[ArticleRecord | None, Signature | None]
"""A page's record and its near-duplicate signature, both computed in a worker process."""


@dataclass
class _Extractor:
    """Extraction in worker processes (the CPU-bound part); in-process when one worker is asked for.

    `submit` returns at once, so the caller stores the previous batch while this one is extracted.
    """

    workers: int
    _pool: Executor | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def submit(self, captures: list[Capture], source: SourceConfig | None) -> Callable[[], list[Extracted]]:
        if self.workers <= 1 or len(captures) <= 1:
            return lambda: [extract_for_archive(c, source) for c in captures]
        pool = self._started_pool()
        futures = [pool.submit(extract_for_archive, c, source) for c in captures]
        return lambda: [f.result() for f in futures]

    def warm(self) -> None:
        """Start the workers now (each imports trafilatura, ~1 s) while the crawl fills the first batch.

        Called at the first page a crawl yields, not at start-up: a run that fetches no page (an
        unchanged site) never pays for the workers.
        """
        if self.workers > 1 and self._pool is None:
            pool = self._started_pool()
            for _ in range(self.workers):
                pool.submit(_import_extractor)

    def _started_pool(self) -> Executor:
        with self._lock:  # sources run in threads and share one pool
            if self._pool is None:
                # spawn, not fork: this process has threads (crawl readers, Prefect), and forking
                # a threaded process can deadlock the child.
                self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                                 mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_exit_with_parent, initargs=(os.getpid(),))
            return self._pool

    def map(self, captures: list[Capture], source: SourceConfig | None) -> list[Extracted]:
        return self.submit(captures, source)()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this worker when the process that runs the pool is gone.

    A killed ingest (SIGKILL, OOM, a cancelled flow run) left its workers blocked on the pool's queue
    for ever, holding ~130 MB each. Polling the parent id works whatever thread started the worker
    (PR_SET_PDEATHSIG would fire when that thread ends, which is not the end of the run).
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(3)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _import_extractor() -> None:
    import crawlers.extract.article  # noqa: F401 - loads trafilatura and lxml in a fresh worker


def extract_for_archive(capture: Capture, source: SourceConfig | None) -> Extracted:
    """Extract a page and compute its MinHash signature (runs in a worker process).

    The signature is computed here, on all cores, rather than by the archive while it holds the
    database's write lock (it was ~40% of the storing process's CPU, bench/RESULTS.md).
    """
    # Imported here, in the worker: the process that crawls and stores never loads trafilatura and
    # lxml's extraction stack (~1.5 CPU-s of imports) unless it extracts itself (one worker).
    from crawlers.extract import extract_capture

    # The extractor promises not to raise on bad HTML; this guard keeps one bug from losing a batch.
    try:
        record = extract_capture(capture, source)
    except Exception:  # noqa: BLE001 - logged with the URL, the capture is still stored
        logging.getLogger(__name__).exception("extraction crashed source=%s url=%s", capture.source_id, capture.url)
        return None, None
    return record, (dedupe.signature(record.text) if record is not None else None)


def _warming(items: Iterable[Capture | FetchError], extractor: _Extractor) -> Iterator[Capture | FetchError]:
    """The items, starting the extraction workers at the first page."""
    warmed = False
    for item in items:
        if not warmed and isinstance(item, Capture) and item.kind == "page":
            extractor.warm()
            warmed = True
        yield item


def _batches(items: Iterable[Capture | FetchError], size: int) -> Iterator[list[Capture | FetchError]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def ingest_source(
    source: SourceConfig,
    archive: Archive | None,
    *,
    run_id: str,
    options: IngestOptions | None = None,
    extractor: _Extractor | None = None,
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
    extractor = extractor or _Extractor(config.extract_workers())
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
    extractor: _Extractor,
    stats: SourceRunStats,
    crawl_host: CrawlHost | None = None,
) -> None:
    handle = None
    try:
        known = [] if archive is None or options.dry_run else list(archive.known_urls(source.id))
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
        for batch in _batches(_warming(handle.iter_items(), extractor), config.batch_size()):
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
    pairs = [(c, by_page.get(id(c), (None, None))[0]) for c in captures]
    signatures = [by_page.get(id(c), (None, None))[1] for c in captures]
    if options.dry_run or archive is None:
        for c, rec in pairs:
            if c.kind == "page" and rec is None:
                stats.count_error("extract")
        return
    if errors:
        archive.record_errors(errors, run_id=run_id)
    outcomes = archive.store(pairs, run_id=run_id, signatures=signatures)
    for (capture, _record), outcome in zip(pairs, outcomes, strict=True):
        for counter in _OUTCOME_COUNTERS.get(outcome, ()):
            setattr(stats, counter, getattr(stats, counter) + 1)
        if outcome == "no_text":
            stats.count_error("extract")
        elif outcome == "error":
            stats.count_error("store")
        if outcome in ("new", "edited", "reappeared", "duplicate", "removed"):
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

