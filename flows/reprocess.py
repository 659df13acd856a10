"""The `reprocess` flow: re-extract stored captures with the current cleaning rules."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows import config
from flows.ingest import publish_report, route_library_logs
from flows.runs import format_report, run_reprocess
from schemas import RunReport, load_sources
from storage.archive import Archive


@flow(name="reprocess")
def reprocess(source: str | None = None, sources_file: str | None = None) -> RunReport:
    """New `reextracted` versions only where the current rules change an article's text."""
    route_library_logs()
    report = run_reprocess(load_sources(sources_file or config.sources_file()), Archive.open(), source_id=source)
    publish_report(report)
    get_run_logger().info("%s", format_report(report))
    return report
