"""`scipol check-sources`: is every configured source still crawlable and extractable?"""

from __future__ import annotations

import click

from flows.commands.common import selected_sources_or_fail


@click.command("check-sources")
@click.option("--sources", "sources_file", type=click.Path(dir_okay=False), default=None,
              help="Sources YAML file (default: $SCIPOL_SOURCES, else ./sources.yaml).")
@click.option("--source", "source_ids", multiple=True, metavar="ID",
              help="Only this source (repeatable; a disabled source is checked when named).")
@click.option("--articles", type=click.IntRange(1, 10), default=2, show_default=True,
              help="Articles to fetch and extract per source.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(5, 3600), default=120.0, show_default=True,
              help="Time limit per source in seconds.")
@click.option("--parallel", type=click.IntRange(1, 16), default=4, show_default=True,
              help="Sources checked at the same time (one crawl process each).")
@click.option("--allow-private", is_flag=True,
              help="Allow loopback/private addresses for every checked source (a staging or local copy).")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings (rules_not_matching) too.")
@click.option("--json", "as_json", is_flag=True, help="Print the health report as JSON.")
def check_sources_command(sources_file: str | None, source_ids: tuple[str, ...], articles: int,
                          timeout_s: float, parallel: int, allow_private: bool, strict: bool,
                          as_json: bool) -> None:
    """Fetch each source's feeds/sitemaps and a few articles, extract them, and report what broke.

    Uses the real crawler (robots.txt, delays, size limits) with a small page budget. Per source:
    ok, or unreachable, blocked_by_robots, no_articles, article_fetch_failed, extraction_empty,
    entry_point_failed, crawl_failed (broken), or rules_not_matching (a warning: none of the
    source's own cleaning rules matched, so its template probably changed). Exit 1 when any source
    is broken (with --strict: or has a warning); nothing is stored.

    \b
    Examples:
      scipol check-sources                          # every enabled source in ./sources.yaml
      scipol check-sources --source nsf_news --json
      scipol check-sources --sources staging.yaml --allow-private
    """
    from flows.health import check_sources, format_health

    sources = selected_sources_or_fail(sources_file, source_ids, "check")
    if allow_private:
        sources = [s.model_copy(update={"allow_private_addresses": True}) for s in sources]
    report = check_sources(sources, articles=articles, timeout_s=timeout_s, parallel=parallel)
    click.echo(report.model_dump_json(indent=2) if as_json else format_health(report))
    if report.failed(strict=strict):
        raise SystemExit(1)
