"""The crawl job: everything the crawl subprocess needs, written by the runner as JSON in the spool dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.capture import KnownUrl
from schemas.sources import SourceConfig

JOB_FILE = "job.json"


class CrawlJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: SourceConfig
    spool_dir: str
    known: list[KnownUrl] = Field(default_factory=list)
    user_agent: str
    backfill: bool = False
    only_urls: list[str] = Field(default_factory=list)
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    log_level: str = "INFO"
    closespider_timeout_s: float = Field(default=1700.0, gt=0)
    download_timeout_s: float = Field(default=30.0, gt=0)
    retry_times: int = Field(default=2, ge=0, le=10)
    retry_backoff_s: float = Field(default=1.0, ge=0)
    retry_after_cap_s: float = Field(default=300.0, ge=0)

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> CrawlJob:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))

    def scrapy_settings(self) -> dict[str, Any]:
        """Per-source overrides of crawlers.settings (applied with 'cmdline' priority)."""
        src = self.source
        return {
            "USER_AGENT": self.user_agent,
            "LOG_LEVEL": self.log_level,
            "DOWNLOAD_DELAY": src.download_delay,
            "AUTOTHROTTLE_START_DELAY": src.download_delay,
            "AUTOTHROTTLE_MAX_DELAY": max(60.0, src.download_delay * 4),
            # AutoThrottle aims at this many requests in flight; at 1.0 it never used the source's
            # allowed concurrency, and a run of cheap 304s crawled one at a time.
            "AUTOTHROTTLE_TARGET_CONCURRENCY": float(src.concurrency),
            "CONCURRENT_REQUESTS_PER_DOMAIN": src.concurrency,
            "DOWNLOAD_MAXSIZE": self.max_bytes,
            "DOWNLOAD_WARNSIZE": max(self.max_bytes // 2, 1),
            "DOWNLOAD_TIMEOUT": self.download_timeout_s,
            "CLOSESPIDER_TIMEOUT": self.closespider_timeout_s,
            "RETRY_TIMES": self.retry_times,
            "SCIPOL_SOURCE_ID": src.id,
            "SCIPOL_SPOOL_DIR": self.spool_dir,
            "SCIPOL_ALLOWED_DOMAINS": src.effective_domains(),
            "SCIPOL_ALLOW_PRIVATE_ADDRESSES": src.allow_private_addresses,
            "SCIPOL_PAGE_BUDGET": src.page_budget,
            "SCIPOL_RETRY_BACKOFF_S": self.retry_backoff_s,
            "SCIPOL_RETRY_AFTER_CAP_S": self.retry_after_cap_s,
        }
