"""The crawl host: `python -m crawlers.crawl_main`, one process running the crawls of a whole run.

A Twisted reactor cannot be restarted, so crawls run in a subprocess (see crawlers.runner). One such
process per source paid Scrapy's import and set-up (~1.5-2.5 CPU-s) for every source of every run,
most of a second run over an unchanged site (bench/RESULTS.md); so one host process runs many
crawls side by side, each a Scrapy `Crawler` with its own settings, spool and log file.

Commands arrive one per line on stdin:

    start /path/to/spool/job.json     start crawling that job
    stop /path/to/spool/job.json      close that crawl early (finish reason "shutdown")

When a crawl ends, `done.json` appears in its spool (after its records and stats are written). The
host exits when stdin is closed and no crawl is running.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import IO, Any

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.reactor import install_reactor
from twisted.python.failure import Failure

import crawlers.tls_import  # noqa: F401 - Scrapy's TLS modules, before any crawler imports them (see there)
from crawlers.crawl_log import CrawlLogRouter, source_extra
from crawlers.job import CrawlJob
from crawlers.middlewares.resolver import allow_private_hosts
from crawlers.spiders.source import SourceSpider
from crawlers.spool import DONE_FILE, LOG_FILE, NOTIFY_FD_ENV

PR_SET_PDEATHSIG = 1
logger = logging.getLogger(__name__)


def base_settings(log_level: str = "INFO") -> Settings:
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    # Our router replaces Scrapy's root handler: one log file per crawl, not one per process.
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    return settings


def build_settings(job: CrawlJob) -> Settings:
    settings = base_settings(job.log_level)
    settings.setdict(job.scrapy_settings(), priority="cmdline")
    return settings


def die_with_parent() -> None:
    """Linux: end this host when the process that started it dies (e.g. a SIGKILLed flow run).

    Without this an orphaned crawl would go on fetching into a spool nobody reads.
    """
    parent = os.environ.get("SCIPOL_CRAWL_PARENT_PID")
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        return
    if os.getppid() != int(parent):  # the parent died before prctl took effect
        sys.exit(3)


# Settings naming one class each that a crawler loads when it starts (its scheduler, queues, stats...).
_CLASS_SETTINGS = (
    "TWISTED_DNS_RESOLVER", "DOWNLOADER", "DUPEFILTER_CLASS", "ITEM_PROCESSOR", "LOG_FORMATTER",
    "REQUEST_FINGERPRINTER_CLASS", "ROBOTSTXT_PARSER", "SCHEDULER", "SCHEDULER_PRIORITY_QUEUE",
    "SCHEDULER_MEMORY_QUEUE", "SCHEDULER_DISK_QUEUE", "SCHEDULER_START_MEMORY_QUEUE", "SCHEDULER_START_DISK_QUEUE",
    "STATS_CLASS",
)
# Settings naming components, each with its *_BASE dict.
_COMPONENT_SETTINGS = ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "EXTENSIONS", "ITEM_PIPELINES",
                       "DOWNLOAD_HANDLERS")


def preload_components(settings: Settings) -> int:
    """Import every class a crawler with these settings loads when it starts; returns how many were loaded.

    The first crawl of a host imported ~55 modules (middlewares, queues, robots parser: ~35 ms) after its
    job had arrived, i.e. on the critical path of a run over an unchanged site; the host waits ~0.2 s
    for its first job while the ingest process imports SQLAlchemy (bench/RESULTS.md). A component
    that cannot be loaded is left for the crawl to report.
    """
    import time

    from scrapy.utils.misc import load_object

    started = time.perf_counter()
    paths: set[str] = set()
    for name in _CLASS_SETTINGS:
        value = settings.get(name)
        if isinstance(value, str):
            paths.add(value)
    for name in _COMPONENT_SETTINGS:
        paths.update(k for k, v in settings.getwithbase(name).items() if isinstance(k, str) and v is not None)
    loaded = 0
    for path in sorted(paths):
        try:
            load_object(path)
        except Exception:  # noqa: BLE001 - the crawl that needs it raises with its own context
            logger.debug("could not preload %s", path, exc_info=True)
        else:
            loaded += 1
    logger.debug("preloaded %d crawl components in %.0f ms", loaded, (time.perf_counter() - started) * 1000)
    return loaded


def notify_ended(job_key: str) -> None:
    """Tell the runner a crawl has ended (after its done marker is written): `CrawlHost` then wakes the
    thread waiting for it. Best effort: without the pipe (a host started by hand) or with the runner gone,
    the runner still finds the marker when it next looks."""
    fd = os.environ.get(NOTIFY_FD_ENV)
    if not fd:
        return
    try:
        os.write(int(fd), f"ended {job_key}\n".encode())  # one short write: atomic on a pipe
    except (OSError, ValueError):
        pass


def write_done(spool_dir: Path, *, ok: bool, error: str = "") -> None:
    tmp = spool_dir / f"{DONE_FILE}.tmp"
    tmp.write_text(json.dumps({"ok": ok, "error": error}), encoding="utf-8")
    tmp.replace(spool_dir / DONE_FILE)


class HostedCrawls:
    """The crawls of this process, started and stopped by commands, all in the reactor thread."""

    def __init__(self, process: CrawlerProcess, router: CrawlLogRouter) -> None:
        self.process = process
        self.router = router
        self.active: dict[str, Crawler] = {}
        self.input_closed = False

    def read_commands(self, stream: IO[str]) -> None:
        """Runs in a thread: hands each stdin line to the reactor thread."""
        from twisted.internet import reactor

        for line in stream:
            command, _, argument = line.strip().partition(" ")
            if command:
                reactor.callFromThread(self.command, command, argument)  # type: ignore[attr-defined]
        reactor.callFromThread(self.end_of_input)  # type: ignore[attr-defined]

    def command(self, command: str, argument: str) -> None:
        if command == "start":
            self.start(Path(argument))
        elif command == "stop":
            self.stop(argument)
        else:
            logger.error("unknown crawl host command %r", command)

    def start(self, job_path: Path) -> None:
        try:
            job = CrawlJob.read(job_path)
        except Exception as exc:  # noqa: BLE001 - a bad job ends that crawl, not the host
            logger.error("cannot read crawl job %s: %s", job_path, exc)
            write_done(job_path.parent, ok=False, error=f"cannot read crawl job: {exc}")
            notify_ended(str(job_path))
            return
        key = str(job_path)
        spool = Path(job.spool_dir)
        if job.source.allow_private_addresses:
            allow_private_hosts(job.source.effective_domains())
        self.router.open(job.source.id, spool / LOG_FILE)
        try:
            crawler = Crawler(SourceSpider, build_settings(job))
            deferred = self.process.crawl(crawler, job=job)
        except Exception as exc:  # noqa: BLE001
            logger.exception("cannot start the crawl of %s", job.source.id, extra=source_extra(job.source.id))
            self._finished(Failure(exc), key, job)
            return
        self.active[key] = crawler
        deferred.addBoth(self._finished, key, job)

    def _finished(self, result: Any, key: str, job: CrawlJob) -> None:
        error = ""
        if isinstance(result, Failure):
            error = f"{result.type.__name__ if result.type else 'error'}: {result.getErrorMessage()}"
            logger.error("crawl of %s failed: %s", job.source.id, error, extra=source_extra(job.source.id))
        try:
            write_done(Path(job.spool_dir), ok=not error, error=error)
        except OSError:
            logger.exception("cannot write the end marker of %s", job.source.id)
        else:
            # Only with the marker written: a runner woken for a crawl it still sees running would stop
            # sleeping between its looks at the spool.
            notify_ended(key)
        self.router.close_source(job.source.id)
        self.active.pop(key, None)
        self._exit_when_idle()

    def stop(self, key: str) -> None:
        from scrapy.utils.defer import deferred_from_coro

        crawler = self.active.get(key)
        if crawler is not None:
            logger.warning("stop requested by the runner", extra=source_extra(crawler.settings["SCIPOL_SOURCE_ID"]))
            deferred_from_coro(crawler.stop_async())

    def end_of_input(self) -> None:
        self.input_closed = True
        self._exit_when_idle()

    def _exit_when_idle(self) -> None:
        if self.input_closed and not self.active:
            from twisted.internet import reactor

            if reactor.running:  # type: ignore[attr-defined]
                reactor.stop()  # type: ignore[attr-defined,misc]


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    args = sys.argv[1:] if argv is None else argv
    log_level = args[0] if args else "INFO"
    settings = base_settings(log_level)
    router = CrawlLogRouter(fallback=logging.StreamHandler(sys.stderr))
    router.setLevel(log_level)
    logging.root.addHandler(router)
    logging.root.setLevel(log_level)
    install_reactor(settings["TWISTED_REACTOR"], settings["ASYNCIO_EVENT_LOOP"])
    process = CrawlerProcess(settings)
    # Scrapy's logging set-up (run by CrawlerProcess) sets its loggers to DEBUG and leaves the level to
    # the root handler, so each page built two DEBUG records ("Crawled", "Scraped") for the router to
    # drop. At the host's level they are not built at all; what reaches the logs is unchanged.
    logging.getLogger("scrapy").setLevel(log_level)
    host = HostedCrawls(process, router)
    from twisted.internet import reactor

    # First thing in the reactor thread, before any command it is handed (they queue behind it).
    reactor.callWhenRunning(preload_components, settings)  # type: ignore[attr-defined]
    threading.Thread(target=host.read_commands, args=(sys.stdin,), name="commands", daemon=True).start()
    process.start(stop_after_crawl=False)
    router.close()
    return 0


def _exit_now(code: int) -> None:
    """Exit without the interpreter's teardown (~0.3 s of freeing Scrapy's and Twisted's modules, which a
    run over an unchanged site waited for). Every crawl has written its records, stats and end marker,
    and the log files are closed: only buffers are left to flush."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_now(main())
