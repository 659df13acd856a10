"""`scipol search`: full-text search over the latest version of every article, Chinese and English alike."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import click

from flows.commands.access import (
    db_option,
    fail,
    iso_time,
    open_reader,
    parse_day,
    tz_option,
    use_colour,
    zone,
)

if TYPE_CHECKING:
    from storage.reading import SearchHit

SNIPPET_CHARS = 160
_BOLD, _RESET = "\x1b[1m", "\x1b[0m"


def snippet(text: str, terms: list[str], *, width: int = SNIPPET_CHARS, colour: bool = False) -> str:
    """About `width` characters of `text` around the first term found, every term marked `[term]`
    (bold on a terminal); the start of the text when no term is in it (the match was in the title)."""
    flat = " ".join(text.split())
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    first = pattern.search(flat)
    start = 0
    if first is not None and first.start() > width // 3:
        start = first.start() - width // 3
        space = flat.rfind(" ", max(0, start - 15), start)
        start = space + 1 if space >= 0 else start
    end = min(len(flat), start + width)
    if end < len(flat):
        space = flat.find(" ", end - 15, end)
        end = space if space > start else end
    piece = flat[start:end]
    marked = pattern.sub(lambda m: f"{_BOLD}{m.group(0)}{_RESET}" if colour else f"[{m.group(0)}]", piece)
    return ("…" if start > 0 else "") + marked + ("…" if end < len(flat) else "")


def _hit_json(hit: SearchHit, terms: list[str], tz: object) -> dict[str, object]:
    return {
        "article_id": hit.article_id,
        "source_id": hit.source_id,
        "url": hit.url,
        "title": hit.title,
        "language": hit.language,
        "published_at": hit.published_at.isoformat() if hit.published_at else None,
        "first_seen_at": iso_time(hit.first_seen_at, tz),  # type: ignore[arg-type]
        "captured_at": iso_time(hit.captured_at, tz),  # type: ignore[arg-type]
        "version_no": hit.version_no,
        "removed_at": iso_time(hit.removed_at, tz),  # type: ignore[arg-type]
        "duplicate_of": hit.duplicate_of,
        "cluster_id": hit.cluster_id,
        "title_hits": hit.title_hits,
        "occurrences": hit.occurrences,
        "snippet": snippet(hit.text, terms),
    }


@click.command("search", short_help="Full-text search (Chinese and English) over the latest versions.")
@click.argument("query")
@click.option("--lang", "language", metavar="CODE", help="Only this language (ISO 639-1: en, zh, ...).")
@click.option("--source", "source_id", metavar="ID", help="Only this source.")
@click.option("--since", metavar="DATE", help="Published (else first seen) on or after this day, YYYY-MM-DD.")
@click.option(
    "--until", metavar="DATE", help="Published (else first seen) on or before this day, YYYY-MM-DD."
)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--with-duplicates", is_flag=True, help="Also list exact duplicates of other articles.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one article per line.")
@tz_option
@db_option
def search_command(
    query: str,
    language: str | None,
    source_id: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    with_duplicates: bool,
    as_json: bool,
    tz_name: str | None,
    db_url: str | None,
) -> None:
    """Search the latest version of every article for all words of QUERY.

    Chinese and English alike (trigram index; words shorter than three characters are scanned).
    Ranked: more query words in the title first, then more occurrences, then newer.

    \b
    Example:
      scipol search 科技 --lang zh --since 2026-01-01
      scipol search "quantum funding" --source nsf_news --json
    """
    tz = zone(tz_name)
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    if first and last and first > last:
        fail(f"--since {first} is after --until {last}")
    terms = [t for t in query.split() if t]
    if not terms:
        fail("the query is empty")
    reader = open_reader(db_url)
    try:
        hits = reader.search(
            query,
            language=language,
            source_id=source_id,
            since=first,
            until=last,
            limit=limit,
            include_duplicates=with_duplicates,
        )
    except Exception as exc:  # noqa: BLE001
        fail(f"search failed: {type(exc).__name__}: {exc}")
    finally:
        reader.close()
    if as_json:
        for hit in hits:
            click.echo(json.dumps(_hit_json(hit, terms, tz), ensure_ascii=False))
        return
    if not hits:
        click.echo(f"no article matches {query!r}", err=True)
        return
    colour = use_colour()
    for n, hit in enumerate(hits, 1):
        day = (
            hit.published_at.isoformat()
            if hit.published_at
            else hit.first_seen_at.astimezone(tz).date().isoformat()
        )
        flags = "".join(
            [
                f"  [duplicate of #{hit.duplicate_of}]" if hit.duplicate_of else "",
                "  [removed]" if hit.removed_at else "",
            ]
        )
        title = snippet(hit.title, terms, width=200, colour=colour)
        click.echo(f"{n}. {title}{flags}")
        click.echo(
            f"   #{hit.article_id}  {hit.source_id}  {day}  {hit.language}  v{hit.version_no}  {hit.url}"
        )
        click.echo(f"   {snippet(hit.text, terms, colour=colour)}")
        click.echo("")
