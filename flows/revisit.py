"""The `revisit` flow: re-check known articles on their decaying schedule (silent edits, removals)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows import config
from flows.ingest import publish_report, route_library_logs
from flows.runs import format_report, run_revisit, select_sources
from schemas import RunReport, load_sources
from storage.archive import Archive


@flow(name="revisit")
def revisit(sources: list[str] | None = None, sources_file: str | None = None) -> RunReport:
    """Fetch, conditionally, every known article whose next revisit is due (computed in SQL)."""
    route_library_logs()
    selected = select_sources(load_sources(sources_file or config.sources_file()), sources)
    report = run_revisit(selected, Archive.open())
    publish_report(report)
    get_run_logger().info("%s", format_report(report))
    if report.status == "failed":
        raise RuntimeError(f"every source failed in revisit run {report.run_id}")
    return report
