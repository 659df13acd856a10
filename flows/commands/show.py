"""`scipol show`: one article by id or URL, with its versions, duplicates and cluster."""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

import click

from flows.commands.access import db_option, fail, open_reader, resolve_article, show_time, tz_option, zone

if TYPE_CHECKING:
    from storage.reading import ArticleInfo, Related, VersionInfo

REASONS = {
    "new": "first capture with text",
    "edited": "the page's text or title changed",
    "reextracted": "same page re-read by a newer extractor",
    "reappeared": "back after a 404/410",
}


def _jsonable(value: Any, tz: tzinfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v, tz) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v, tz) for v in value]
    return value


def article_json(
    info: ArticleInfo, versions: list[VersionInfo], related: Related, tz: tzinfo, with_text: bool
) -> dict[str, Any]:
    data = asdict(info)
    data["versions"] = [
        {k: v for k, v in asdict(ver).items() if with_text or k not in ("text",)} for ver in versions
    ]
    data["duplicate_of"] = asdict(related.duplicate_of) if related.duplicate_of else None
    data["duplicates"] = [asdict(r) for r in related.duplicates]
    data["cluster"] = {"id": related.cluster_id, "members": [asdict(r) for r in related.cluster]}
    return _jsonable(data, tz)  # type: ignore[no-any-return]


@click.command("show", short_help="One article by id or URL: metadata, versions, duplicates.")
@click.argument("article", metavar="ARTICLE")
@click.option("--versions", "with_versions", is_flag=True, help="Print the title and text of every version.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (with --versions: texts included).")
@tz_option
@db_option
def show_command(
    article: str, with_versions: bool, as_json: bool, tz_name: str | None, db_url: str | None
) -> None:
    """Show one article, by id or URL: metadata, its versions and why each exists, duplicates, cluster.

    A URL is canonicalised like the crawler does (tracking parameters, fragments, host case do not
    matter), and any URL that led to the article works.

    \b
    Example:
      scipol show 42
      scipol show "https://www.nsf.gov/news/quantum?utm_source=rss" --versions
    """
    tz = zone(tz_name)
    reader = open_reader(db_url)
    try:
        article_id = resolve_article(reader, article)
        info = reader.article(article_id)
        versions = reader.versions(article_id)
        related = reader.related(article_id)
    finally:
        reader.close()
    if info is None:
        fail(f"article {article_id} has no version yet")
    if as_json:
        click.echo(json.dumps(article_json(info, versions, related, tz, with_versions), ensure_ascii=False))
        return
    _print_article(info, versions, related, tz, with_versions)


def _line(label: str, value: object) -> None:
    click.echo(f"{label:<14}{value}")


def _print_article(
    info: ArticleInfo, versions: list[VersionInfo], related: Related, tz: tzinfo, with_versions: bool
) -> None:
    click.secho(info.title or "(no title)", bold=True)
    _line("article", f"#{info.article_id}")
    _line("url", info.url)
    if info.fetched_url != info.url:
        _line("fetched url", info.fetched_url)
    _line("source", info.source_id)
    _line("language", info.language)
    _line("published", info.published_at.isoformat() if info.published_at else "-")
    if info.authors:
        _line("authors", ", ".join(info.authors))
    _line("first seen", show_time(info.first_seen_at, tz))
    _line("last seen", show_time(info.last_seen_at, tz))
    _line("last fetched", show_time(info.last_fetched_at, tz))
    _line("status", f"removed since {show_time(info.removed_at, tz)}" if info.removed_at else "live")
    if related.duplicate_of:
        d = related.duplicate_of
        _line("duplicate of", f"#{d.article_id} {d.title} ({d.url})")
    for n, d in enumerate(related.duplicates):
        _line("duplicates" if n == 0 else "", f"#{d.article_id} {d.url}")
    if related.cluster_id is not None:
        _line("cluster", f"{related.cluster_id} ({len(related.cluster)} other article(s))")
        for d in related.cluster:
            _line("", f"#{d.article_id} {d.title} ({d.url})")
    click.echo("")
    click.secho(f"versions ({len(versions)})", bold=True)
    for v in versions:
        change = "" if v.version_no == 1 else f"  +{v.chars_added}/-{v.chars_removed} chars"
        why = REASONS.get(v.reason, v.reason)
        click.echo(f"  v{v.version_no}  {show_time(v.captured_at, tz)}  {v.reason:<11}{change}  ({why})")
    click.echo("")
    if with_versions:
        for v in versions:
            click.secho(
                f"--- v{v.version_no} ({v.reason}, {show_time(v.captured_at, tz)}): {v.title}", bold=True
            )
            click.echo(v.text)
            click.echo("")
    else:
        click.secho(f"text (v{info.version_no})", bold=True)
        click.echo(textwrap.indent(info.text, "  "))
