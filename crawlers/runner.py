"""Run crawls in a subprocess and read their records while they run.

A Twisted reactor cannot be restarted in one process, so crawls run in a `python -m
crawlers.crawl_main` subprocess, the crawl host. A run starts one host (`CrawlHost`) and every source
it crawls becomes one crawl inside it (`CrawlHost.start`), paying Scrapy's start-up once per run
instead of once per source. Each crawl writes to its own spool directory (crawlers.spool);
`CrawlHandle.iter_items()` tails that spool, so extraction overlaps with fetching. `start_crawl`
runs one crawl in a host of its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crawlers import spool
from crawlers.errors import CrawlSetupError

if TYPE_CHECKING:
    from crawlers.job import CrawlJob
    from crawlers.spool import SpoolRecord
    from schemas.capture import Capture, FetchError, KnownUrl
    from schemas.sources import SourceConfig

logger = logging.getLogger(__name__)

DEFAULT_USER_AGENT = (
    "scipol/0.1 (science-policy news archive; +https://example.org/scipol; crawler@example.org)"
)
_PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOST_LOG_FILE = "crawl-host.log"
_STOP_GRACE_S = 15.0
"""How long a crawl asked to stop may take before its host is killed."""
# The job and the records (pydantic) are imported where they are used: starting the crawl host, the first
# thing `scipol ingest` does, needs neither, and importing them first delayed it by ~0.6 s.


@dataclass(frozen=True)
class CrawlOptions:
    user_agent: str
    timeout_s: float = 1800
    """Wall-clock limit of the whole crawl; the subprocess is killed at this point."""
    backfill: bool = False
    """Fetch sitemap entries older than the source's lookback_days too."""
    only_urls: tuple[str, ...] = ()
    """Revisit mode: fetch exactly these URLs (conditionally), no discovery."""
    max_bytes: int = 10 * 1024 * 1024
    log_level: str = "INFO"
    download_timeout_s: float = 30.0
    retry_times: int = 2
    retry_backoff_s: float = 1.0
    """First retry waits this long, then doubles (5xx, timeouts, connection errors)."""
    retry_after_cap_s: float = 300.0
    """A Retry-After longer than this gives up (reason http_status) instead of waiting."""


@dataclass(frozen=True)
class CrawlResult:
    returncode: int
    stats: dict[str, int | float | str] = field(default_factory=dict)
    ok: bool = False
    message: str = ""


def _closespider_timeout(timeout_s: float) -> float:
    # Leave time for start-up (~1.5 s before the spider opens) and a clean close (flush the spool,
    # write stats) before the hard kill.
    grace = min(30.0, max(3.0, timeout_s * 0.1))
    return max(1.0, timeout_s - grace)


class CrawlHost:
    """One crawl subprocess (`python -m crawlers.crawl_main`) running the crawls of many sources.

    Started at once, in the calling thread: Linux ends the host when that thread's process dies
    (PR_SET_PDEATHSIG, crawl_main.die_with_parent). `start()` may be called from any thread.
    `close()` lets running crawls finish and then the process exits; `kill()` ends it now.
    """

    def __init__(self, work_dir: Path, *, log_level: str = "INFO", log_name: str = HOST_LOG_FILE) -> None:
        self.work_dir = Path(work_dir).resolve()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.work_dir / log_name
        self._lock = threading.Lock()
        self._sources: dict[str, CrawlHandle] = {}
        env = dict(os.environ)
        env["SCRAPY_SETTINGS_MODULE"] = "crawlers.settings"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
        env.pop("SCRAPY_PROJECT", None)
        env["SCIPOL_CRAWL_PARENT_PID"] = str(os.getpid())
        self._handles: dict[str, CrawlHandle] = {}
        """job path -> its handle, for the host's end-of-crawl notices."""
        # The host writes a line here when a crawl has ended (crawl_main.notify_ended): the handle waiting
        # for it wakes at once instead of at its next look at the spool (every 50 ms: on average 25 ms
        # of a ~0.8 s run over an unchanged site). The spool's done marker stays the authority.
        notices, notices_w = os.pipe()
        env[spool.NOTIFY_FD_ENV] = str(notices_w)
        self._log_handle = open(self.log_path, "ab")  # noqa: SIM115 - closed in _closed()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "crawlers.crawl_main", log_level],
                cwd=self.work_dir,
                env=env,
                stdin=subprocess.PIPE,
                stdout=self._log_handle,
                stderr=subprocess.STDOUT,
                pass_fds=(notices_w,),
                # Own process group: a Ctrl-C meant for the flow does not half-stop the crawls.
                start_new_session=True,
            )
        except OSError as exc:
            self._log_handle.close()
            os.close(notices)
            raise CrawlSetupError(f"cannot start the crawl subprocess: {exc}") from exc
        finally:
            os.close(notices_w)  # the host holds the only write end: its exit is this pipe's end of file
        threading.Thread(target=self._read_notices, args=(notices,), name="crawl-host-notices", daemon=True).start()
        logger.info("crawl host started: pid %d, log %s", self._process.pid, self.log_path)

    def _read_notices(self, fd: int) -> None:
        with open(fd, "rb") as stream:
            for line in stream:
                _, _, job = line.decode("utf-8", "replace").strip().partition(" ")
                with self._lock:
                    handle = self._handles.pop(job, None)
                if handle is not None:
                    handle.ended.set()
        # The host has exited: whatever it was running has ended too.
        with self._lock:
            handles, self._handles = list(self._handles.values()), {}
        for handle in handles:
            handle.ended.set()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    def alive(self) -> bool:
        return self._process.poll() is None

    def start(
        self,
        source: SourceConfig,
        spool_dir: Path,
        known: Iterable[KnownUrl] = (),
        options: CrawlOptions | None = None,
        *,
        owns_host: bool = False,
    ) -> CrawlHandle:
        """Start crawling `source` into `spool_dir` (created; must hold no records)."""
        options = options or CrawlOptions(user_agent=DEFAULT_USER_AGENT)
        spool_dir = Path(spool_dir).resolve()
        spool_dir.mkdir(parents=True, exist_ok=True)
        _require_fresh(spool_dir)
        from crawlers.job import JOB_FILE

        job_path = spool_dir / JOB_FILE
        _job(source, spool_dir, known, options).write(job_path)
        handle = CrawlHandle(self, job_path, source.id, options.timeout_s, owns_host=owns_host)
        with self._lock:
            running = self._sources.get(source.id)
            if running is not None and running.running():
                # Log lines are routed by source id: two crawls of one source would mix them.
                raise CrawlSetupError(f"source {source.id} is already being crawled by this host")
            self._sources[source.id] = handle
            self._handles[str(job_path)] = handle
        if not self.send(f"start {job_path}"):
            raise CrawlSetupError(f"the crawl host has exited ({self.returncode}); see {self.log_path}: "
                                  f"{_last_line(self.log_path)}")
        logger.info("crawl of %s started in host pid %d, spool %s", source.id, self.pid, spool_dir)
        return handle

    def send(self, line: str) -> bool:
        stdin = self._process.stdin
        with self._lock:
            if stdin is None or stdin.closed:
                return False
            try:
                stdin.write(line.encode("utf-8") + b"\n")
                stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                return False
        return True

    def close(self, timeout_s: float | None = None) -> int | None:
        """No more crawls: the host exits when its running crawls end. Waits up to `timeout_s`."""
        with self._lock:
            stdin = self._process.stdin
            if stdin is not None and not stdin.closed:
                with contextlib.suppress(OSError):
                    stdin.close()
        if timeout_s is not None:
            try:
                self._process.wait(timeout=max(0.0, timeout_s))
            except subprocess.TimeoutExpired:
                return None
            self._closed()
        return self._process.poll()

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._closed()

    def _closed(self) -> None:
        with self._lock:
            stdin = self._process.stdin
            if stdin is not None and not stdin.closed:
                with contextlib.suppress(OSError):
                    stdin.close()
        self._log_handle.close()

    def __enter__(self) -> CrawlHost:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.close(timeout_s=30.0) is None:
            logger.warning("crawl host pid %d did not exit within 30 s: killing it", self.pid)
            self.kill()


class CrawlHandle:
    """One crawl in a host. Iterate `iter_items()` to consume records, then `wait()` for the result."""

    def __init__(self, host: CrawlHost, job_path: Path, source_id: str, timeout_s: float,
                 *, owns_host: bool = False) -> None:
        self.host = host
        self.job_path = job_path
        self.spool_dir = job_path.parent
        self.source_id = source_id
        self.timeout_s = timeout_s
        self.owns_host = owns_host
        self._deadline = time.monotonic() + timeout_s
        self._reader = spool.SpoolReader(self.spool_dir)
        self._timed_out = False
        self._killed = False
        self.ended = threading.Event()
        """Set when the host says this crawl has ended, or has exited itself: sleepers wake early."""

    @property
    def pid(self) -> int:
        return self.host.pid

    @property
    def log_path(self) -> Path:
        return self.spool_dir / spool.LOG_FILE

    def done(self) -> bool:
        return (self.spool_dir / spool.DONE_FILE).exists()

    def running(self) -> bool:
        return not self.done() and self.host.alive()

    def _enforce_deadline(self) -> None:
        if time.monotonic() < self._deadline or not self.running():
            return
        logger.warning("crawl of %s exceeded %.0f s: stopping it (host pid %d)", self.source_id, self.timeout_s,
                       self.pid)
        self._timed_out = True
        self._stop(grace_s=_STOP_GRACE_S)

    def _stop(self, grace_s: float) -> None:
        """End this crawl: ask the host to close it, and kill the host if it does not within `grace_s`."""
        if self.owns_host:
            self.host.kill()
            return
        self.host.send(f"stop {self.job_path}")
        until = time.monotonic() + grace_s
        while self.running() and time.monotonic() < until:
            time.sleep(0.1)
        if self.running():
            logger.warning("crawl of %s did not stop within %.0f s: killing the crawl host (pid %d) and "
                           "with it every crawl it runs", self.source_id, grace_s, self.pid)
            self.host.kill()

    def iter_items(self, poll_s: float = 0.05, read_ahead: int = 50,
                   *, defer_page_bodies: bool = False) -> Iterator[Capture | FetchError]:
        """Yield records as the crawl writes them, until it has ended and the spool is drained.

        At most `read_ahead` records (with their bodies) are in memory here at a time, however far
        the crawl runs ahead of the consumer. `defer_page_bodies`: pages come with `spooled_body` set
        instead of their body (`SpoolReader`); the spool must then outlive their use.
        """
        self._reader.defer_page_bodies = defer_page_bodies
        while True:
            self._enforce_deadline()
            ended = not self.running()
            batch: list[SpoolRecord] = self._reader.read_new(limit=read_ahead)
            yield from batch
            if ended and not batch:
                if self._reader.has_partial_line:
                    logger.warning("crawl of %s left an unfinished record line (killed mid-write)", self.source_id)
                return
            if not batch:
                self.ended.wait(poll_s)

    def wait(self) -> CrawlResult:
        """Wait for the crawl to end (stopping it at the deadline) and judge it from its stats file."""
        while self.running():
            self._enforce_deadline()
            self.ended.wait(0.05)
        if self.owns_host:
            self.host.close(timeout_s=30.0)
        return self._result()

    def kill(self) -> None:
        """Stop the crawl now (no-op when it has ended)."""
        if self.owns_host:
            if self.host.alive():
                self._killed = True
            self.host.kill()
        elif self.running():
            self._killed = True
            self._stop(grace_s=_STOP_GRACE_S)

    def __enter__(self) -> CrawlHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def _result(self) -> CrawlResult:
        stats = spool.read_stats(self.spool_dir)
        captures = sum(int(v) for k, v in stats.items() if k.startswith("scipol/captures/"))
        errors = sum(int(v) for k, v in stats.items() if k.startswith("scipol/errors/"))
        summary = f"{captures} captures, {errors} fetch errors"
        done = _read_done(self.spool_dir)
        rc = 0 if done is not None and done.get("ok") else (self.host.returncode if done is None else 1)
        rc = -1 if rc is None else rc
        if self._timed_out:
            return CrawlResult(
                rc, stats, False, f"crawl stopped after the {self.timeout_s:.0f} s limit ({summary})"
            )
        if self._killed:
            return CrawlResult(rc, stats, False, "crawl killed by the caller")
        if done is None:
            return CrawlResult(
                rc,
                stats,
                False,
                f"crawl process exited with {rc}; see {self.host.log_path}: {_last_line(self.host.log_path)}",
            )
        if not done.get("ok"):
            return CrawlResult(rc, stats, False, f"crawl failed: {done.get('error')}; see {self.log_path}")
        if not stats:
            return CrawlResult(
                rc, stats, False, f"crawl wrote no stats; see {self.log_path}: {_last_line(self.log_path)}"
            )
        reason = str(stats.get("finish_reason", ""))
        exceptions = sum(int(v) for k, v in stats.items() if k.startswith("spider_exceptions/"))
        entry_ok = int(stats.get("scipol/entry_points/ok", 0))
        entry_failed = int(stats.get("scipol/entry_points/failed", 0))
        if reason != "finished":
            return CrawlResult(
                rc, stats, False, f"crawl ended early ({reason or 'unknown reason'}): {summary}"
            )
        if exceptions:
            return CrawlResult(
                rc, stats, False, f"{exceptions} spider callback exception(s); see {self.log_path}"
            )
        if entry_failed and not entry_ok:
            return CrawlResult(
                rc, stats, False, f"all {entry_failed} feeds/sitemaps/listing pages failed: {summary}"
            )
        return CrawlResult(rc, stats, True, summary)


def _require_fresh(spool_dir: Path) -> None:
    if (spool_dir / spool.RECORDS_FILE).exists():
        raise CrawlSetupError(f"spool dir {spool_dir} already holds records: use a fresh directory per crawl")


def _read_done(spool_dir: Path) -> dict[str, object] | None:
    try:
        data = json.loads((spool_dir / spool.DONE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _last_line(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(path) - 4096))
            lines = [ln for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:500] if lines else ""


def _job(source: SourceConfig, spool_dir: Path, known: Iterable[KnownUrl], options: CrawlOptions) -> CrawlJob:
    from crawlers.job import CrawlJob

    return CrawlJob(
        source=source,
        spool_dir=str(spool_dir),
        known=list(known),
        user_agent=options.user_agent,
        backfill=options.backfill,
        only_urls=list(options.only_urls),
        max_bytes=options.max_bytes,
        log_level=options.log_level,
        closespider_timeout_s=_closespider_timeout(options.timeout_s),
        download_timeout_s=options.download_timeout_s,
        retry_times=options.retry_times,
        retry_backoff_s=options.retry_backoff_s,
        retry_after_cap_s=options.retry_after_cap_s,
    )


def start_crawl(
    source: SourceConfig, spool_dir: Path, known: Iterable[KnownUrl] = (), options: CrawlOptions | None = None
) -> CrawlHandle:
    """Start crawling `source` in a crawl host of its own, writing to `spool_dir`."""
    options = options or CrawlOptions(user_agent=DEFAULT_USER_AGENT)
    spool_dir = Path(spool_dir).resolve()
    _require_fresh(spool_dir)  # before a process is started for it
    host = CrawlHost(spool_dir, log_level=options.log_level)
    try:
        handle = host.start(source, spool_dir, known, options, owns_host=True)
    except BaseException:
        host.kill()
        raise
    host.close()  # the host exits when this one crawl ends
    return handle


def run_crawl(
    source: SourceConfig, spool_dir: Path, known: Iterable[KnownUrl] = (), options: CrawlOptions | None = None
) -> tuple[list[Capture | FetchError], CrawlResult]:
    """Run a crawl to the end and return all its records and the result (tests, small jobs)."""
    handle = start_crawl(source, spool_dir, known, options)
    with handle:
        items = list(handle.iter_items())
        return items, handle.wait()


__all__ = ["CrawlHandle", "CrawlHost", "CrawlOptions", "CrawlResult", "run_crawl", "start_crawl"]
