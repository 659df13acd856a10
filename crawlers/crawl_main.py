"""Entry point of the crawl subprocess: `python -m crawlers.crawl_main SPOOL_DIR/job.json`.

A Twisted reactor cannot be restarted, so each crawl runs in its own process (see crawlers.runner).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawlers.job import CrawlJob
from crawlers.spiders.source import SourceSpider

PR_SET_PDEATHSIG = 1


def build_settings(job: CrawlJob) -> Settings:
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    settings.setdict(job.scrapy_settings(), priority="cmdline")
    return settings


def die_with_parent() -> None:
    """Linux: end this crawl when the process that started it dies (e.g. a SIGKILLed flow run).

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


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m crawlers.crawl_main JOB_JSON", file=sys.stderr)
        return 2
    job = CrawlJob.read(Path(args[0]))
    process = CrawlerProcess(build_settings(job))
    process.crawl(SourceSpider, job=job)
    process.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
