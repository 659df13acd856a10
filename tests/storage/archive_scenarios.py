"""Scenario data and worker entry points for the archive tests (imported by spawned workers and run as a
script by the kill test, so it must not import pytest or conftest).

Run as a script: `python archive_scenarios.py DB_URL` stores the standard scenario from the start,
printing `stored N` after each item (the kill test reads these lines to pick its moment).
"""

from __future__ import annotations

import sys
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __name__ == "__main__":  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from schemas import ArticleRecord, Capture  # noqa: E402
from storage.versions import text_hash  # noqa: E402

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SOURCE = "scenario_src"
EXTRACTOR = "test-1"

Item = tuple[Capture, ArticleRecord | None]


def article_text(url_no: int, variant: str) -> str:
    """Distinct texts per URL and variant, long enough to look like articles."""
    base = (f"Notice {url_no} of the science ministry on research funding programme {url_no * 7}. "
            f"Applications are reviewed by panel {url_no % 5}. ")
    return base + {
        "A": "The deadline for applications is 30 April 2026.",
        "B": "The deadline for applications has moved to 15 May 2026.",
        "C": "The call is closed; results will follow in June.",
    }[variant] + f" Contact office {url_no}."


def make_item(url: str, text: str | None, at: datetime, *, title: str = "Funding notice",
              kind: str = "page", source_id: str = SOURCE, canonical_url: str | None = None,
              status: int = 200, headers: dict[str, str] | None = None, extractor: str = EXTRACTOR,
              body: bytes | None = None) -> Item:
    """A capture (and its record when `text` is not None) as the crawler would hand it over."""
    if body is None and kind == "page":
        body = f"<html><head><title>{title}</title></head><body><p>{text or ''}</p></body></html>".encode()
    capture = Capture(source_id=source_id, url=url, final_url=url, status=status, kind=kind,  # type: ignore[arg-type]
                      headers=headers if headers is not None else {"content-type": "text/html; charset=utf-8"},
                      body=body, fetched_at=at)
    if text is None:
        return capture, None
    record = ArticleRecord(source_id=source_id, url=url, canonical_url=canonical_url or url, title=title,
                           text=text, extractor_version=extractor, language="en", language_confidence=0.99)
    return capture, record


SEQUENCE = ["A", "A", "A+ws", "B", "A", None, "B", "C"]
"""Per-URL content over time (None: a fetch without usable text)."""


def scenario(n_urls: int = 8) -> list[list[Item]]:
    """Batches in time order: batch k holds step k of SEQUENCE for every URL."""
    batches = []
    for step, variant in enumerate(SEQUENCE):
        batch = []
        for n in range(n_urls):
            if variant is None:
                text = None
            elif variant == "A+ws":
                text = "  " + article_text(n, "A").replace(" ", "  \n ") + "\n\n"
            else:
                text = article_text(n, variant)
            batch.append(make_item(f"https://ministry.example/notices/{n}.html", text,
                                   T0 + timedelta(hours=step)))
        batches.append(batch)
    return batches


def expected_versions() -> int:
    """Versions per URL for SEQUENCE: one per change of normalised text against the latest."""
    count, latest = 0, None
    for variant in SEQUENCE:
        if variant is None:
            continue
        digest = text_hash(article_text(0, variant.split("+")[0]))
        if digest != latest:
            count, latest = count + 1, digest
    return count


def revisits(worker_no: int, n_urls: int = 8) -> list[Item]:
    """304 revisits of every URL at a time unique to this worker (distinct captures, no versions)."""
    at = T0 + timedelta(days=2, seconds=worker_no)
    return [make_item(f"https://ministry.example/notices/{n}.html", None, at, kind="not_modified", status=304)
            for n in range(n_urls)]


def write_scenario(url: str, worker_no: int) -> str:
    """Worker body: store the scenario and this worker's revisits; '' on success, else the traceback."""
    from storage import Archive

    try:
        archive = Archive.open(url)
        try:
            for batch in scenario():
                archive.store(batch, run_id=f"worker-{worker_no}")
            archive.store(revisits(worker_no), run_id=f"worker-{worker_no}")
        finally:
            archive.close()
        return ""
    except Exception:  # noqa: BLE001 - reported back to the test process
        return traceback.format_exc()


def _main(url: str) -> None:
    from storage import Archive

    archive = Archive.open(url)
    stored = 0
    for batch in scenario():
        for item in batch:
            archive.store([item], run_id="killable")
            stored += 1
            print(f"stored {stored}", flush=True)
    print("done", flush=True)
    archive.close()


if __name__ == "__main__":
    _main(sys.argv[1])
