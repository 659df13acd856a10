"""`scipol ingest`: one run of the ingest flow."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from flows import program
from flows.commands.common import adhoc_source, apply_db, db_option, fail, selected_sources_or_fail

if TYPE_CHECKING:
    from crawlers.runner import CrawlHost
    from storage.archive import Archive


@click.command("ingest")
@click.option("--sources", "sources_file", type=click.Path(dir_okay=False), default=None,
              help="Sources YAML file (default: $SCIPOL_SOURCES, else ./sources.yaml).")
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Only this source (repeatable).")
@db_option
@click.option("--feed", "feeds", multiple=True, metavar="URL", help="Ad-hoc source: crawl this feed (repeatable).")
@click.option("--sitemap", "sitemaps", multiple=True, metavar="URL",
              help="Ad-hoc source: crawl this sitemap (repeatable).")
@click.option("--source-id", default=None, help="Id of the ad-hoc source (default: from the host).")
@click.option("--delay", type=click.FloatRange(0, 600), default=2.0, show_default=True,
              help="Per-domain download delay in seconds for ad-hoc sources.")
@click.option("--allow-private", is_flag=True, help="Allow loopback/private addresses for ad-hoc sources.")
@click.option("--lookback-days", type=click.IntRange(1, 36500), default=None,
              help="Only sitemap entries newer than this (overrides the sources' setting).")
@click.option("--backfill", is_flag=True, help="Ignore the look-back window: fetch the whole sitemap history.")
@click.option("--recheck-known", is_flag=True,
              help="Request every known article discovery lists (conditionally: 304 when unchanged), not "
                   "only those dated after our copy (overrides the sources' recheck_known).")
@click.option("--dry-run", is_flag=True, help="Crawl and extract, store nothing.")
@click.option("--prefect/--no-prefect", "use_prefect", default=None,
              help="Run as a Prefect flow (default: when PREFECT_API_URL is set).")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
def ingest_command(**options: Any) -> None:
    """Crawl sources once and store new articles and versions.

    \b
    Examples:
      scipol ingest                                  # every enabled source in ./sources.yaml
      scipol ingest --source nsf_news --source most_cn
      scipol ingest --feed https://example.org/rss.xml --delay 5
      scipol ingest --db postgresql+psycopg://scipol@db/scipol
    """
    args = IngestArgs(**options)
    use_prefect = args.use_prefect if args.use_prefect is not None else bool(os.environ.get("PREFECT_API_URL"))
    # The crawl process starts first: its Scrapy start-up (~1.5 s) overlaps this process's own
    # imports and database work instead of following them (most of a run over an unchanged site,
    # ~1.3 s in all: bench/RESULTS.md).
    host = None if use_prefect else _start_crawl_host()
    try:
        _ingest(args, use_prefect, host)
    finally:
        if host is not None and host.alive():  # not handed over (bad arguments): stop it
            host.kill()
            shutil.rmtree(host.work_dir, ignore_errors=True)
    if not use_prefect:
        # The run is over, reported and its archive closed; what is left is the interpreter tearing down
        # SQLAlchemy, pydantic and the rest (~0.1 s, 7 % of a run over an unchanged site). With Prefect,
        # its client may still be shipping logs and events at exit: that path ends normally.
        program.exit_now(0)


@dataclass(frozen=True)
class IngestArgs:
    """The options of `scipol ingest`, as click parsed them (one field per option)."""

    sources_file: str | None
    source_ids: tuple[str, ...]
    db_url: str | None
    feeds: tuple[str, ...]
    sitemaps: tuple[str, ...]
    source_id: str | None
    delay: float
    allow_private: bool
    lookback_days: int | None
    backfill: bool
    recheck_known: bool
    dry_run: bool
    use_prefect: bool | None
    as_json: bool


def _start_crawl_host() -> CrawlHost:
    # Not flows.pipeline.start_crawl_host: importing flows.pipeline loads SQLAlchemy, the start-up this
    # overlaps; and the run id that names the host there does not exist yet.
    import uuid

    from crawlers.runner import CrawlHost
    from flows import config

    return CrawlHost(config.spool_root() / f"ingest-{uuid.uuid4().hex[:12]}-host")


def _ingest(args: IngestArgs, use_prefect: bool, host: CrawlHost | None) -> None:
    from flows.pipeline import IngestOptions
    from flows.runs import format_report, run_ingest

    apply_db(args.db_url)
    if args.feeds or args.sitemaps:
        sources = [adhoc_source(list(args.feeds), list(args.sitemaps), source_id=args.source_id, delay=args.delay,
                                allow_private=args.allow_private)]
    else:
        sources = selected_sources_or_fail(args.sources_file, args.source_ids, "ingest")
    options = IngestOptions(backfill=args.backfill, dry_run=args.dry_run, lookback_days=args.lookback_days,
                            recheck_known="all" if args.recheck_known else None)
    if use_prefect:
        from flows.ingest import ingest as ingest_flow

        try:
            report = ingest_flow(source_configs=[s.model_dump(mode="json") for s in sources],
                                 lookback_days=args.lookback_days, backfill=args.backfill, dry_run=args.dry_run,
                                 recheck_known=args.recheck_known)
        except Exception as exc:  # noqa: BLE001 - the flow run (and its log) says more; one line here
            fail(f"the ingest flow run failed: {type(exc).__name__}: {exc}", code=1)
    else:
        archive = None if args.dry_run else _open_archive()
        try:
            report = run_ingest(sources, archive, options=options, crawl_host=host)
        finally:
            if archive is not None:
                archive.close()  # here, not at interpreter exit: SQLite checkpoints its WAL on the last close
    click.echo(report.model_dump_json(indent=2) if args.as_json else format_report(report))
    if report.status != "completed":
        raise SystemExit(1)


def _open_archive() -> Archive:
    from storage.archive import Archive  # lazy: `scipol --help` does not load SQLAlchemy

    try:
        return Archive.open()
    except Exception as exc:  # noqa: BLE001 - an unreachable database is one clear line
        fail(f"cannot open the archive database: {type(exc).__name__}: {exc}")
