"""What a run did, per source: the run report shown to operators and stored in the archive."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

StoreOutcome = Literal["new", "edited", "reextracted", "reappeared", "unchanged", "duplicate", "removed",
                       "not_modified", "no_text", "non_html", "error"]
"""What storing one capture did. `duplicate` is a new article whose text equals an earlier one."""


class SourceRunStats(BaseModel):
    model_config = ConfigDict(frozen=False)

    source_id: str
    status: Literal["ok", "failed", "skipped"] = "ok"
    pages_fetched: int = 0
    new_articles: int = 0
    new_versions: int = 0
    """All new versions, including the first version of new articles."""
    unchanged: int = 0
    not_modified: int = 0
    duplicates: int = 0
    removals: int = 0
    known_skipped: int = 0
    """Known articles listed again by discovery but not requested: nothing dates them after our copy
    (source `recheck_known: changed`)."""
    errors: dict[str, int] = Field(default_factory=dict)
    """Failed fetches and extractions by reason."""
    duration_s: float = 0.0
    message: str = ""
    retryable: bool = False
    """The source failed for a reason a retry may fix (a database hiccup), not a broken site."""

    def count_error(self, reason: str, n: int = 1) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + n

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


class RunReport(BaseModel):
    model_config = ConfigDict(frozen=False)

    run_id: str
    flow: str = "ingest"
    started_at: datetime
    finished_at: datetime | None = None
    status: Literal["running", "completed", "failed"] = "running"
    sources: list[SourceRunStats] = Field(default_factory=list)

    def totals(self) -> SourceRunStats:
        total = SourceRunStats(source_id="*")
        for s in self.sources:
            for name in ("pages_fetched", "new_articles", "new_versions", "unchanged", "not_modified",
                         "duplicates", "removals", "known_skipped"):
                setattr(total, name, getattr(total, name) + getattr(s, name))
            for reason, n in s.errors.items():
                total.count_error(reason, n)
            total.duration_s += s.duration_s
        return total
