"""A run over several sources: the report, the runs-table row, sources processed side by side.

Plain Python (no Prefect): `scipol ingest` calls `run_ingest` directly; the Prefect flow in
`flows.ingest` does the same work with one task per source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from flows import config
from flows.pipeline import IngestOptions, _Extractor, ingest_source, new_run_id
from schemas import RunReport, SourceConfig, SourceRunStats
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
    parallel_sources: int = 4,
    run_id: str | None = None,
    on_source_done: Callable[[SourceRunStats], None] | None = None,
) -> RunReport:
    options = options or IngestOptions()
    report = RunReport(run_id=run_id or new_run_id(), flow="ingest", started_at=datetime.now(UTC))
    if archive is not None and not options.dry_run:
        archive.sync_sources(list(sources))
        archive.start_run(report)
    extractor = _Extractor(config.extract_workers())
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(parallel_sources, len(sources) or 1))) as pool:
            futures = [
                pool.submit(ingest_source, s, archive, run_id=report.run_id, options=options, extractor=extractor)
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
             f"{'304':>5} {'dups':>5} {'removed':>7} {'errors':>6} {'secs':>6}"
    lines = [f"run {report.run_id}: {report.status}", header]
    rows = [*report.sources, report.totals()] if len(report.sources) > 1 else list(report.sources)
    for s in rows:
        lines.append(
            f"{s.source_id:<24} {s.status:<7} {s.pages_fetched:>7} {s.new_articles:>5} {s.new_versions:>8} "
            f"{s.unchanged:>9} {s.not_modified:>5} {s.duplicates:>5} {s.removals:>7} {s.error_count:>6} "
            f"{s.duration_s:>6.1f}"
        )
        if s.errors:
            lines.append("    errors: " + ", ".join(f"{k}={v}" for k, v in sorted(s.errors.items())))
        if s.message:
            lines.append(f"    note: {s.message}")
    return "\n".join(lines)
