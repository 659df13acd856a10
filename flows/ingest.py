"""Prefect flows. The only module tree that imports prefect.

`ingest` is the deployment entrypoint (`flows/ingest.py:ingest` in prefect.yaml). Each source is one
task (crawl + extract + store, batched inside), never one task per article.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Annotated, Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import wait
from pydantic import Field
from sqlalchemy.exc import OperationalError

from crawlers.runner import CrawlHost
from flows import config
from flows.extraction import ExtractionPool
from flows.pipeline import IngestOptions, ingest_source, shared_crawl_host
from flows.runs import finish_report, format_report, select_sources
from schemas import RunReport, SourceConfig, SourceRunStats, load_sources, parse_sources
from storage.archive import Archive

SourceId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]


class TransientSourceError(RuntimeError):
    """Raised by the source task when a retry may help (the archive database hiccuped)."""


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only what a retry can fix: database hiccups, not broken pages or bad config."""
    try:
        state.result()
    except (TransientSourceError, OperationalError):
        return True
    except Exception:  # noqa: BLE001
        return False
    return False


@task(name="ingest-source", retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=_transient,
      task_run_name="ingest-{source.id}")
def ingest_source_task(source: SourceConfig, run_id: str, options: IngestOptions) -> SourceRunStats:
    archive = None if options.dry_run else Archive.open()
    stats = ingest_source(source, archive, run_id=run_id, options=options, extractor=_shared_extractor(),
                          crawl_host=_CRAWL_HOST[0] if _CRAWL_HOST else None)
    if stats.retryable:
        raise TransientSourceError(f"source {source.id}: {stats.message}")
    return stats


LIBRARY_LOGGERS = ("crawlers", "storage", "flows")


def route_library_logs() -> None:
    """Let INFO lines of our packages reach the run log.

    Prefect attaches its API handler to PREFECT_LOGGING_EXTRA_LOGGERS (set in prefect.yaml) but not a
    level, so they would inherit the root's WARNING and drop every per-URL INFO line.
    """
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)


_EXTRACTOR: list[ExtractionPool] = []
_CRAWL_HOST: list[CrawlHost] = []
"""The flow run's crawl process, shared by its source tasks like the extractor (a module global, not
a task parameter: Prefect would try to hash and serialise a process handle)."""


def _shared_extractor() -> ExtractionPool:
    # One pool of extraction processes per flow run, shared by the source tasks (threads): a pool
    # per source would start cores x sources processes.
    if not _EXTRACTOR:
        _EXTRACTOR.append(ExtractionPool(config.extract_workers()))
    return _EXTRACTOR[0]


def _close_shared_extractor() -> None:
    while _EXTRACTOR:
        _EXTRACTOR.pop().close()


def _resolve_sources(sources: list[str] | None, sources_file: str | None,
                     source_configs: list[dict[str, Any]] | None) -> list[SourceConfig]:
    if source_configs:
        return parse_sources({"sources": source_configs}, path="flow parameter source_configs")
    return select_sources(load_sources(sources_file or config.sources_file()), sources)


def publish_report(report: RunReport) -> None:
    """The run report as Prefect artifacts (a table and a markdown summary)."""
    rows = []
    for s in report.sources:
        rows.append({
            "source": s.source_id, "status": s.status, "fetched": s.pages_fetched, "new_articles": s.new_articles,
            "new_versions": s.new_versions, "unchanged": s.unchanged, "not_modified": s.not_modified,
            "duplicates": s.duplicates, "removals": s.removals, "known_skipped": s.known_skipped,
            "errors": ", ".join(f"{k}={v}" for k, v in sorted(s.errors.items())) or "-",
            "duration_s": s.duration_s,
        })
    create_table_artifact(key=f"{report.flow}-report", table=rows, description=f"scipol run {report.run_id}")
    create_markdown_artifact(key=f"{report.flow}-summary", markdown=f"```\n{format_report(report)}\n```",
                             description=f"scipol run {report.run_id}: {report.status}")


@flow(name="ingest", log_prints=True)
def ingest(
    sources: list[SourceId] | None = None,
    sources_file: str | None = None,
    lookback_days: Annotated[int, Field(ge=1, le=36500)] | None = None,
    backfill: bool = False,
    dry_run: bool = False,
    timeout_s: Annotated[float, Field(gt=0, le=86400)] = 1800.0,
    source_configs: list[dict[str, Any]] | None = None,
    recheck_known: bool = False,
) -> RunReport:
    """Crawl the selected sources (all enabled ones by default) and archive new articles and versions.

    Fails only when every source fails (or the archive is unreachable); otherwise completes and reports
    the failures per source.
    """
    route_library_logs()
    logger = get_run_logger()
    selected = _resolve_sources(sources, sources_file, source_configs)
    options = IngestOptions(backfill=backfill, dry_run=dry_run, lookback_days=lookback_days, timeout_s=timeout_s,
                            recheck_known="all" if recheck_known else None)
    report = RunReport(run_id=_run_id(), flow="ingest", started_at=datetime.now(UTC))
    archive = None
    if not dry_run:
        archive = Archive.open()
        archive.sync_sources(selected)
        archive.start_run(report)
    logger.info("ingest run %s over %d source(s): %s", report.run_id, len(selected),
                ", ".join(s.id for s in selected))
    with ExitStack() as stack:
        if selected:
            _CRAWL_HOST.append(stack.enter_context(shared_crawl_host(report.run_id)))
            stack.callback(_CRAWL_HOST.clear)
        stack.callback(_close_shared_extractor)
        futures = [ingest_source_task.submit(s, report.run_id, options) for s in selected]
        wait(futures)
    for source, fut in zip(selected, futures, strict=True):
        try:
            report.sources.append(fut.result())
        except Exception as exc:  # noqa: BLE001 - reported per source; the run goes on
            report.sources.append(SourceRunStats(source_id=source.id, status="failed",
                                                 message=f"{type(exc).__name__}: {exc}", errors={"other": 1}))
    finish_report(report)
    if archive is not None:
        archive.finish_run(report)
    publish_report(report)
    logger.info("%s", format_report(report))
    if report.status == "failed":
        raise RuntimeError(f"every source failed in run {report.run_id}")
    return report


def _run_id() -> str:
    from prefect.runtime import flow_run

    rid = flow_run.id
    return str(rid) if rid else datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")

