"""The `canary` flow: a scheduled source health check (`flows/canary.py:canary` in prefect.yaml).

One task per source runs the same check as `scipol check-sources` (a small real crawl plus extraction).
The run publishes a table artifact (`canary-report`) and fails when any source is broken, so Prefect's
failure notifications tell operators about a redesigned or dead site the day it happens.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from flows import config
from flows.health import (
    DEFAULT_ARTICLES,
    DEFAULT_TIMEOUT_S,
    Finding,
    HealthReport,
    SourceHealth,
    check_source,
    format_health,
    health_rows,
)
from flows.ingest import SourceId, route_library_logs
from flows.runs import select_sources
from schemas import SourceConfig, load_sources


# No retries: check_source never raises for a broken site, and a retried check would hide a flaky one.
@task(name="check-source", task_run_name="check-{source.id}")
def check_source_task(source: SourceConfig, articles: int, timeout_s: float) -> SourceHealth:
    return check_source(source, articles=articles, timeout_s=timeout_s)


def publish_health(report: HealthReport) -> None:
    """The report as Prefect artifacts: a table (`canary-report`) and the text summary (`canary-summary`)."""
    state = f"{len(report.broken)} broken, {len(report.warnings)} warning(s)"
    create_table_artifact(key="canary-report", table=health_rows(report),
                          description=f"scipol source health {report.checked_at:%Y-%m-%d %H:%M} UTC: {state}")
    create_markdown_artifact(key="canary-summary", markdown=f"```\n{format_health(report)}\n```",
                             description=f"scipol source health: {state}")


# Four crawl subprocesses at a time (~90 MB each); a canary over many sources queues the rest.
# Prefect types TaskRunner as invariant in its future type, so ThreadPoolTaskRunner is not accepted as declared.
@flow(name="canary", task_runner=ThreadPoolTaskRunner(max_workers=4))  # type: ignore[arg-type]
def canary(
    sources: list[SourceId] | None = None,
    sources_file: str | None = None,
    articles: Annotated[int, Field(ge=1, le=10)] = DEFAULT_ARTICLES,
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = DEFAULT_TIMEOUT_S,
    fail_on_warning: bool = False,
) -> HealthReport:
    """Check the selected sources (all enabled ones by default); fail the run when any is broken."""
    route_library_logs()
    logger = get_run_logger()
    selected = select_sources(load_sources(sources_file or config.sources_file()), sources)
    logger.info("checking %d source(s): %s", len(selected), ", ".join(s.id for s in selected))
    futures = [check_source_task.submit(s, articles, timeout_s) for s in selected]
    wait(futures)
    report = HealthReport(checked_at=datetime.now(UTC))
    for source, fut in zip(selected, futures, strict=True):
        try:
            report.sources.append(fut.result())
        except Exception as exc:  # noqa: BLE001 - a crashed task is that source's finding, not the run's end
            health = SourceHealth(source_id=source.id, name=source.name, status="crawl_failed")
            health.findings.append(Finding(status="crawl_failed", detail=f"{type(exc).__name__}: {exc}"))
            report.sources.append(health)
    publish_health(report)
    logger.info("%s", format_health(report))
    if report.failed(strict=fail_on_warning):
        names = report.broken + (report.warnings if fail_on_warning else [])
        raise RuntimeError(f"source health check failed for: {', '.join(names)}")
    return report
