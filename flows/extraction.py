"""Extraction in worker processes: the CPU-bound part of an ingest, on every core.

Workers are forked from a forkserver that has imported trafilatura and our extraction stack once,
compiled the cleaning rules and filled the libraries' lazy caches (`_PRELOAD`, `crawlers.extract.warm`),
so a worker starts in milliseconds, warm, and shares those memory pages with its siblings. With
`spawn`, each worker imported them itself and also re-imported the parent's main module (`flows.cli`,
or Prefect's flow-run entry point) and `flows.pipeline` with SQLAlchemy: ~2 CPU-s per worker, per run.

This module is what the forkserver imports: keep it free of SQLAlchemy, Scrapy and Prefect.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field

from schemas import ArticleRecord, Capture, SourceConfig
from storage.precompute import Precomputed, precompute

Extracted = tuple[ArticleRecord | None, Precomputed]
"""A page's record and what the archive derives from it and the raw body (hashes, MinHash signature,
compressed body), all computed in a worker process."""

_PAGES_PER_TASK = 8

_PRELOAD = ["flows.extraction", "crawlers.extract.warm"]
"""Imported once by the forkserver, before it forks any worker."""


@dataclass
class ExtractionPool:
    """Extraction in worker processes; in-process when one worker is asked for.

    `submit` returns at once, so the caller stores the previous batch while this one is extracted.
    Sources run in threads and share one pool.
    """

    workers: int
    _pool: Executor | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _starter: threading.Thread | None = field(default=None, init=False)

    def submit(self, captures: list[Capture], source: SourceConfig | None) -> Callable[[], list[Extracted]]:
        if self.workers <= 1 or len(captures) <= 1:
            return lambda: [extract_for_archive(c, source) for c in captures]
        pool = self._started_pool()
        # A few pages per task: each task costs a pickled source config, a pipe message and a future
        # here; more than a few per task would leave a worker idle at the end of a batch.
        size = max(1, min(_PAGES_PER_TASK, len(captures) // (2 * self.workers)))
        futures = [pool.submit(extract_pages, captures[i:i + size], source) for i in range(0, len(captures), size)]
        return lambda: [extracted for f in futures for extracted in f.result()]

    def warm(self) -> None:
        """Start the workers now (the forkserver imports and warms up, ~1 s) while the crawl fills the
        first batch. Returns at once.

        Called when a source with nothing archived starts (its crawl will yield pages), else at the
        first page a crawl yields: a run that fetches no page (an unchanged site) never pays for the
        workers. The start runs in a thread of its own because starting a worker waits until the
        forkserver has imported everything: when the caller waited, five of the bench's eight sources
        started their crawls 1.2 s late, and the crawl process sat idle meanwhile (bench/RESULTS.md).
        """
        if self.workers <= 1:
            return
        with self._lock:
            if self._pool is not None or self._starter is not None:
                return
            self._starter = threading.Thread(target=self._start_workers, name="extraction-start", daemon=True)
            self._starter.start()

    def _start_workers(self) -> None:
        try:
            pool = self._started_pool()
            for _ in range(self.workers):
                pool.submit(_import_extractor)
        except Exception:  # noqa: BLE001 - the first batch's submit starts them again, and raises there
            logging.getLogger(__name__).warning("could not start the extraction workers ahead", exc_info=True)

    def _started_pool(self) -> Executor:
        with self._lock:
            if self._pool is None:
                # forkserver, not fork: this process has threads (crawl readers, Prefect), and forking
                # a threaded process can deadlock the child. The forkserver is single-threaded.
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(_PRELOAD)  # ignored if a forkserver already runs
                self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                                 initializer=_exit_with_parent, initargs=(os.getpid(),))
                with _POOLS_LOCK:
                    _OPEN_POOLS.add(id(self))
            return self._pool

    def map(self, captures: list[Capture], source: SourceConfig | None) -> list[Extracted]:
        return self.submit(captures, source)()

    def close(self) -> None:
        starter, self._starter = self._starter, None
        if starter is not None:
            starter.join()  # else it could start a pool after this one is shut down
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
            with _POOLS_LOCK:
                _OPEN_POOLS.discard(id(self))
                # The forkserver serves every pool of this process; it only stops once their workers are
                # gone (each holds its liveness pipe), so stopping it under a live pool would block here.
                if not _OPEN_POOLS:
                    _stop_forkserver()


_OPEN_POOLS: set[int] = set()
_POOLS_LOCK = threading.Lock()


def _stop_forkserver() -> None:
    """Stop and reap the forkserver once its workers are gone.

    Otherwise it lives as long as this process (a Prefect worker, a test session) and its CPU time,
    which includes its reaped workers', never reaches this process's `wait4` accounting. The next pool
    starts a new one. `_stop` is CPython's own (used by its tests, present since 3.8): there is no
    public way to stop a forkserver.
    """
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)  # noqa: SLF001
    if stop is not None:
        try:
            stop()
        except OSError:
            logging.getLogger(__name__).warning("could not stop the extraction forkserver", exc_info=True)


def _exit_with_parent(run_pid: int) -> None:
    """Worker initializer: end this worker when the process that runs the pool (`run_pid`) is gone.

    A killed ingest (SIGKILL, OOM, a cancelled flow run) left its workers blocked on the pool's queue
    for ever, holding ~130 MB each. The worker's own parent is the forkserver, which cannot tell: each
    worker holds the forkserver's liveness pipe, so the forkserver outlives the ingest until its workers
    end. A pidfd of the ingest becomes readable when it exits, whoever started the pool (PR_SET_PDEATHSIG
    would fire when the thread that forked ends, which is not the end of the run).
    """
    try:
        handle = os.pidfd_open(run_pid)
    except ProcessLookupError:
        os._exit(3)  # gone before this worker started
    except (AttributeError, OSError):  # no pidfd (Linux < 5.3, other systems): ask every second
        threading.Thread(target=_poll_for_exit, args=(run_pid,), name="exit-with-parent", daemon=True).start()
        return

    def watch() -> None:
        select.select([handle], [], [])
        os._exit(3)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _poll_for_exit(run_pid: int) -> None:
    while True:
        time.sleep(1.0)
        try:
            os.kill(run_pid, 0)  # signal 0: only checks that the process exists
        except (ProcessLookupError, PermissionError):
            # PermissionError: the id now belongs to another user's process, so ours is gone.
            os._exit(3)


def _import_extractor() -> None:
    import crawlers.extract.article  # noqa: F401 - a no-op when the forkserver preloaded it


def extract_pages(captures: list[Capture], source: SourceConfig | None) -> list[Extracted]:
    return [extract_for_archive(c, source) for c in captures]


def extract_for_archive(capture: Capture, source: SourceConfig | None) -> Extracted:
    """Extract a page and precompute what storing it needs (runs in a worker process).

    Hashes, signature and compressed body are computed here, on all cores, rather than by the one
    thread that stores (they were ~40 % of its CPU, bench/RESULTS.md).
    """
    # Imported here: the process that crawls and stores never loads trafilatura and lxml's
    # extraction stack (~1.5 CPU-s of imports) unless it extracts itself (one worker).
    from crawlers.extract import extract_capture

    spooled = capture.spooled_body
    capture = capture.with_body()  # a body still in the spool is read here, checked against its hash
    # The extractor promises not to raise on bad HTML; this guard keeps one bug from losing a batch.
    try:
        record = extract_capture(capture, source)
    except Exception:  # noqa: BLE001 - logged with the URL, the capture is still stored
        logging.getLogger(__name__).exception("extraction crashed source=%s url=%s", capture.source_id, capture.url)
        record = None
    return record, precompute(capture, record, body_sha256=spooled.sha256 if spooled is not None else None)
