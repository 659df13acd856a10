"""`scipol demo`: the whole pipeline, offline, on the bundled demo site."""

from __future__ import annotations

from pathlib import Path

import click

from flows.commands.common import apply_db, db_option, fail
from schemas import SourceConfig

DEMO_SOURCES = Path(__file__).resolve().parent.parent / "demo" / "sources.yaml"


def demo_sources(base_url: str) -> list[SourceConfig]:
    """The demo sources file with the running server's address filled in."""
    import yaml

    from schemas import parse_sources

    text = DEMO_SOURCES.read_text(encoding="utf-8").replace("__BASE_URL__", base_url)
    return parse_sources(yaml.safe_load(text), path=str(DEMO_SOURCES))


@click.command("demo")
@db_option
@click.option("--port", type=click.IntRange(1024, 65535), default=8765, show_default=True,
              help="Port of the demo site on 127.0.0.1 (fixed, so URLs stay the same across demos).")
@click.option("--keep-serving", is_flag=True, help="Keep the demo site running after the two runs (Ctrl-C stops).")
def demo_command(db_url: str | None, port: int, keep_serving: bool) -> None:
    """Serve the bundled demo site on 127.0.0.1, ingest it twice, editing one article in between.

    The archive is left in ./scipol.db (or --db) for you to query.

    \b
    Example:
      scipol demo && sqlite3 scipol.db 'select version_no, title from latest_articles limit 5'
    """
    from flows.demo import DemoSite
    from flows.runs import format_report, run_ingest
    from storage.archive import Archive
    from storage.db import database_url

    apply_db(db_url)
    try:
        archive = Archive.open()
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot open the archive database: {type(exc).__name__}: {exc}")
    site = DemoSite(port=port)
    try:
        base_url = site.start()
    except OSError as exc:
        fail(f"cannot serve the demo site on 127.0.0.1:{port}: {exc.strerror or exc} (try --port)")
    try:
        sources = demo_sources(base_url)
        # A site that was already crawled keeps its latest edition, as a real site would.
        already = any(True for s in sources for _ in archive.known_urls(s.id))
        site.edition = 2 if already else 1
        click.echo(f"demo site: {base_url} ({len(site.articles)} articles, edition {site.edition})")
        first = run_ingest(sources, archive)
        click.echo("\nrun 1\n" + format_report(first))
        if site.edition == 1:
            site.edition = 2
            click.echo("\n(the site edits one article)")
        second = run_ingest(sources, archive)
        click.echo("\nrun 2\n" + format_report(second))
        click.echo(f"\narchive: {database_url()}")
        click.echo("try:    scipol runs    |   sqlite3 scipol.db "
                   "\"select article_id, version_no, title from latest_articles limit 10\"")
        if keep_serving:
            click.echo(f"serving {base_url} until Ctrl-C")
            import time

            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()
    if first.status != "completed" or second.status != "completed":
        raise SystemExit(1)
