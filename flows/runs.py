"""A run over several sources: the report, the runs-table row, sources processed side by side.

Plain Python (no Prefect): `scipol ingest` calls `run_ingest` directly; the Prefect flow in
`flows.ingest` does the same work with one task per source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import UTC, datetime

from crawlers.runner import CrawlHost
from flows import config
from flows.extraction import ExtractionPool
from flows.pipeline import IngestOptions, ingest_source, new_run_id, shared_crawl_host
from schemas import Capture, RunReport, SourceConfig, SourceRunStats
from storage.archive import Archive

log = logging.getLogger(__name__)


def select_sources(all_sources: Sequence[SourceConfig], ids: Sequence[str] | None) -> list[SourceConfig]:
    """The enabled sources, or exactly the named ones (an unknown id is an error naming it)."""
    if not ids:
        return [s for s in all_sources if s.enabled]
    by_id = {s.id: s for s in all_sources}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise KeyError(f"unknown source id(s): {', '.join(unknown)} (known: {', '.join(sorted(by_id)) or 'none'})")
    return [by_id[i] for i in ids]


def finish_report(report: RunReport) -> RunReport:
    report.finished_at = datetime.now(UTC)
    failed = [s for s in report.sources if s.status == "failed"]
    # A run fails only when every source failed; otherwise it completes with the failures reported.
    report.status = "failed" if report.sources and len(failed) == len(report.sources) else "completed"
    return report


def run_ingest(
    sources: Sequence[SourceConfig],
    archive: Archive | None,
    *,
    options: IngestOptions | None = None,
    parallel_sources: int = 8,
    run_id: str | None = None,
    on_source_done: Callable[[SourceRunStats], None] | None = None,
    crawl_host: CrawlHost | None = None,
) -> RunReport:
    """Ingest `sources` side by side into `archive`. `crawl_host`, when given, is used (and closed)."""
    options = options or IngestOptions()
    report = RunReport(run_id=run_id or new_run_id(), flow="ingest", started_at=datetime.now(UTC))
    if archive is not None and not options.dry_run:
        archive.sync_sources(list(sources))
        archive.start_run(report)
    extractor = ExtractionPool(config.extract_workers())
    try:
        with shared_crawl_host(report.run_id, crawl_host) if sources or crawl_host else nullcontext(None) as host, \
                ThreadPoolExecutor(max_workers=max(1, min(parallel_sources, len(sources) or 1))) as pool:
            futures = [
                pool.submit(ingest_source, s, archive, run_id=report.run_id, options=options, extractor=extractor,
                            crawl_host=host)
                for s in sources
            ]
            for fut in futures:
                stats = fut.result()
                report.sources.append(stats)
                if on_source_done is not None:
                    on_source_done(stats)
    finally:
        extractor.close()
        finish_report(report)
        if archive is not None and not options.dry_run:
            archive.finish_run(report)
    return report


def format_report(report: RunReport) -> str:
    """A short plain-text summary, one line per source and a total."""
    header = f"{'source':<24} {'status':<7} {'fetched':>7} {'new':>5} {'versions':>8} {'unchanged':>9} " \
             f"{'304':>5} {'known':>6} {'dups':>5} {'removed':>7} {'errors':>6} {'secs':>6}"
    lines = [f"run {report.run_id}: {report.status}", header]
    rows = [*report.sources, report.totals()] if len(report.sources) > 1 else list(report.sources)
    for s in rows:
        lines.append(
            f"{s.source_id:<24} {s.status:<7} {s.pages_fetched:>7} {s.new_articles:>5} {s.new_versions:>8} "
            f"{s.unchanged:>9} {s.not_modified:>5} {s.known_skipped:>6} {s.duplicates:>5} {s.removals:>7} "
            f"{s.error_count:>6} "
            f"{s.duration_s:>6.1f}"
        )
        if s.errors:
            lines.append("    errors: " + ", ".join(f"{k}={v}" for k, v in sorted(s.errors.items())))
        if s.message:
            lines.append(f"    note: {s.message}")
    return "\n".join(lines)


def run_revisit(
    sources: Sequence[SourceConfig],
    archive: Archive,
    *,
    now: datetime | None = None,
    options: IngestOptions | None = None,
    parallel_sources: int = 8,
) -> RunReport:
    """Re-check articles whose revisit is due (decaying schedule per source), conditionally.

    Silent edits become new versions, 404/410 become removals, 304s cost one request each.
    """
    now = now or datetime.now(UTC)
    base = options or IngestOptions()
    report = RunReport(run_id=new_run_id(), flow="revisit", started_at=datetime.now(UTC))
    archive.sync_sources(list(sources))
    archive.start_run(report)
    extractor = ExtractionPool(config.extract_workers())
    try:
        due = {s.id: archive.due_revisits(s.id, now, list(s.revisit_hours), s.page_budget) for s in sources}
        todo = [s for s in sources if due[s.id]]
        for s in sources:
            if not due[s.id]:
                report.sources.append(SourceRunStats(source_id=s.id, status="skipped", message="no revisit due"))
        with shared_crawl_host(report.run_id) if todo else nullcontext(None) as host, \
                ThreadPoolExecutor(max_workers=max(1, min(parallel_sources, len(todo) or 1))) as pool:
            futures = [
                pool.submit(ingest_source, s, archive, run_id=report.run_id, extractor=extractor, crawl_host=host,
                            options=IngestOptions(only_urls=tuple(due[s.id]), timeout_s=base.timeout_s,
                                                  max_bytes=base.max_bytes))
                for s in todo
            ]
            report.sources.extend(f.result() for f in futures)
    finally:
        extractor.close()
        finish_report(report)
        archive.finish_run(report)
    return report


def run_reprocess(
    sources: Sequence[SourceConfig],
    archive: Archive,
    *,
    source_id: str | None = None,
) -> RunReport:
    """Re-extract stored captures with the current rules; a `reextracted` version only where text changes."""
    from crawlers.extract import EXTRACTOR_VERSION  # not at import: `scipol ingest` never loads trafilatura

    report = RunReport(run_id=new_run_id(), flow="reprocess", started_at=datetime.now(UTC))
    archive.start_run(report)
    by_id = {s.id: s for s in sources}
    stats: dict[str, SourceRunStats] = {}
    extractor = ExtractionPool(config.extract_workers())
    try:
        batch: list[Capture] = []

        def flush() -> None:
            for sid in {c.source_id for c in batch}:
                group = [c for c in batch if c.source_id == sid]
                st = stats.setdefault(sid, SourceRunStats(source_id=sid))
                extracted = extractor.map(group, by_id.get(sid))
                # Storage names a changed text from an already-stored capture `reextracted`.
                outcomes = archive.store([(c, rec) for c, (rec, _pre) in zip(group, extracted, strict=True)],
                                         run_id=report.run_id, precomputed=[pre for _rec, pre in extracted])
                st.pages_fetched += len(group)
                for outcome in outcomes:
                    if outcome in ("edited", "reextracted", "reappeared", "new"):
                        st.new_versions += 1
                    elif outcome == "unchanged":
                        st.unchanged += 1
                    elif outcome in ("no_text", "error"):
                        st.count_error("extract" if outcome == "no_text" else "store")
            batch.clear()

        for capture in archive.captures_for_reprocess(source_id, skip_extractor_version=EXTRACTOR_VERSION):
            batch.append(capture)
            if len(batch) >= config.batch_size():
                flush()
        flush()
    finally:
        extractor.close()
        report.sources = list(stats.values())
        finish_report(report)
        archive.finish_run(report)
    return report
