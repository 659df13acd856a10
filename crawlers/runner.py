"""Start one crawl of one source in a subprocess and read its records while it runs.

A Twisted reactor cannot be restarted and Scrapy's CrawlerProcess resets logging, so every crawl is
a fresh `python -m crawlers.crawl_main` process. It writes to a spool directory (crawlers.spool);
`CrawlHandle.iter_items()` tails that spool, so extraction overlaps with fetching.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from crawlers.errors import CrawlSetupError
from crawlers.job import JOB_FILE, CrawlJob
from crawlers.spool import LOG_FILE, RECORDS_FILE, SpoolReader, SpoolRecord, read_stats
from schemas.capture import Capture, FetchError, KnownUrl
from schemas.sources import SourceConfig

logger = logging.getLogger(__name__)

DEFAULT_USER_AGENT = (
    "scipol/0.1 (science-policy news archive; +https://example.org/scipol; crawler@example.org)"
)
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


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


class CrawlHandle:
    """A running crawl. Iterate `iter_items()` to consume records, then `wait()` for the result."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        spool_dir: Path,
        source_id: str,
        timeout_s: float,
        log_handle: object,
    ) -> None:
        self._process = process
        self.spool_dir = spool_dir
        self.source_id = source_id
        self.timeout_s = timeout_s
        self._deadline = time.monotonic() + timeout_s
        self._reader = SpoolReader(spool_dir)
        self._log_handle = log_handle
        self._timed_out = False
        self._killed = False

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def log_path(self) -> Path:
        return self.spool_dir / LOG_FILE

    def running(self) -> bool:
        return self._process.poll() is None

    def _enforce_deadline(self) -> None:
        if self.running() and time.monotonic() >= self._deadline:
            logger.warning(
                "crawl of %s exceeded %.0f s: killing pid %d", self.source_id, self.timeout_s, self.pid
            )
            self._timed_out = True
            self._terminate()

    def _terminate(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()

    def iter_items(self, poll_s: float = 0.2) -> Iterator[Capture | FetchError]:
        """Yield records as the crawl writes them, until the process has exited and the spool is drained."""
        while True:
            self._enforce_deadline()
            exited = not self.running()
            batch: list[SpoolRecord] = self._reader.read_new()
            yield from batch
            if exited and not batch:
                if self._reader.has_partial_line:
                    logger.warning(
                        "crawl of %s left an unfinished record line (killed mid-write)", self.source_id
                    )
                return
            if not batch:
                time.sleep(poll_s)

    def wait(self) -> CrawlResult:
        """Wait for the process (killing it at the deadline) and judge the crawl from its stats file."""
        remaining = self._deadline - time.monotonic()
        try:
            self._process.wait(timeout=max(0.0, remaining))
        except subprocess.TimeoutExpired:
            self._enforce_deadline()
            self._terminate()
        self._close_log()
        return self._result()

    def kill(self) -> None:
        self._killed = True
        self._terminate()
        self._close_log()

    def _close_log(self) -> None:
        close = getattr(self._log_handle, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> CrawlHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.running():
            self.kill()

    def _result(self) -> CrawlResult:
        rc = self._process.returncode if self._process.returncode is not None else -1
        stats = read_stats(self.spool_dir)
        captures = sum(int(v) for k, v in stats.items() if k.startswith("scipol/captures/"))
        errors = sum(int(v) for k, v in stats.items() if k.startswith("scipol/errors/"))
        summary = f"{captures} captures, {errors} fetch errors"
        if self._timed_out:
            return CrawlResult(
                rc, stats, False, f"crawl killed after the {self.timeout_s:.0f} s limit ({summary})"
            )
        if self._killed:
            return CrawlResult(rc, stats, False, "crawl killed by the caller")
        if rc != 0:
            return CrawlResult(
                rc,
                stats,
                False,
                f"crawl process exited with {rc}; see {self.log_path}: {_last_line(self.log_path)}",
            )
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


def _last_line(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(path) - 4096))
            lines = [ln for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:500] if lines else ""


def start_crawl(
    source: SourceConfig, spool_dir: Path, known: Iterable[KnownUrl] = (), options: CrawlOptions | None = None
) -> CrawlHandle:
    """Start crawling `source` in a subprocess writing to `spool_dir` (created; must hold no records)."""
    options = options or CrawlOptions(user_agent=DEFAULT_USER_AGENT)
    spool_dir = Path(spool_dir).resolve()
    spool_dir.mkdir(parents=True, exist_ok=True)
    if (spool_dir / RECORDS_FILE).exists():
        raise CrawlSetupError(f"spool dir {spool_dir} already holds records: use a fresh directory per crawl")
    job = CrawlJob(
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
    job_path = spool_dir / JOB_FILE
    job.write(job_path)
    env = dict(os.environ)
    env["SCRAPY_SETTINGS_MODULE"] = "crawlers.settings"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("SCRAPY_PROJECT", None)
    env["SCIPOL_CRAWL_PARENT_PID"] = str(os.getpid())
    log_handle = open(spool_dir / LOG_FILE, "ab")  # noqa: SIM115 - closed by the handle
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "crawlers.crawl_main", str(job_path)],
            cwd=spool_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            # Own process group: a Ctrl-C meant for the flow does not half-stop the crawl.
            start_new_session=True,
        )
    except OSError as exc:
        log_handle.close()
        raise CrawlSetupError(f"cannot start the crawl subprocess: {exc}") from exc
    logger.info("crawl of %s started: pid %d, spool %s", source.id, process.pid, spool_dir)
    return CrawlHandle(process, spool_dir, source.id, options.timeout_s, log_handle)


def run_crawl(
    source: SourceConfig, spool_dir: Path, known: Iterable[KnownUrl] = (), options: CrawlOptions | None = None
) -> tuple[list[Capture | FetchError], CrawlResult]:
    """Run a crawl to the end and return all its records and the result (tests, small jobs)."""
    handle = start_crawl(source, spool_dir, known, options)
    with handle:
        items = list(handle.iter_items())
        return items, handle.wait()


__all__ = ["CrawlHandle", "CrawlOptions", "CrawlResult", "run_crawl", "start_crawl"]
