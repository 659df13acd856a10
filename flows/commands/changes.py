"""`scipol changes`: the change feed (new articles, edits, removals, reappearances) with a cursor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flows.commands.access import (
    db_option,
    fail,
    iso_time,
    open_reader,
    parse_when,
    show_time,
    tz_option,
    zone,
)

if TYPE_CHECKING:
    from storage.reading import ChangeEvent

# storage.reading.DEFAULT_SETTLE_SECONDS, repeated so that `scipol --help` does not import SQLAlchemy.
DEFAULT_SETTLE_SECONDS = 30.0


def event_json(event: ChangeEvent, tz: object) -> dict[str, object]:
    return {
        "cursor": event.cursor,
        "event": event.event,
        "at": iso_time(event.at, tz),  # type: ignore[arg-type]
        "stored_at": iso_time(event.stored_at, tz),  # type: ignore[arg-type]
        "article_id": event.article_id,
        "source_id": event.source_id,
        "url": event.url,
        "version_no": event.version_no,
        "title": event.title,
        "chars_added": event.chars_added,
        "chars_removed": event.chars_removed,
        "duplicate_of": event.duplicate_of,
    }


@click.command("changes", short_help="Change feed (new, edited, removed, reappeared) with a cursor.")
@click.option(
    "--since",
    metavar="TIME",
    help="Start with events fetched at or after this time "
    "(YYYY-MM-DD or ISO 8601; used when there is no cursor).",
)
@click.option("--cursor", metavar="CURSOR", help="Continue after this cursor (printed by the previous call).")
@click.option(
    "--cursor-file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Read the cursor from PATH if it exists, and write the next cursor there after printing.",
)
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option(
    "--format", "output_format", type=click.Choice(["table", "jsonl"]), default="table", show_default=True
)
@click.option(
    "--settle",
    "settle_seconds",
    type=click.FloatRange(0),
    default=DEFAULT_SETTLE_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="PostgreSQL: leave out events stored in the last SECONDS, so one still committing "
    "behind them is never skipped.",
)
@tz_option
@db_option
def changes_command(
    since: str | None,
    cursor: str | None,
    cursor_file: Path | None,
    limit: int,
    output_format: str,
    settle_seconds: float,
    tz_name: str | None,
    db_url: str | None,
) -> None:
    """List what changed in the archive, oldest first: new articles, edits, re-extractions, removals
    (404/410) and reappearances.

    Each event carries a cursor; the cursor to continue from is printed last (on stderr, as
    "next cursor: ..."). Polling with it returns only later events, never one twice, even when old
    pages are stored late (the order is the order events were stored).

    \b
    Example:
      scipol changes --since 2026-03-01 --format jsonl
      scipol changes --cursor '2026-03-02T08:00:00.000000Z|1234' --limit 500
      scipol changes --since 2026-03-01 --cursor-file feed.cursor --format jsonl >> events.jsonl
    """
    tz = zone(tz_name)
    if cursor is None and cursor_file is not None and cursor_file.exists():
        cursor = cursor_file.read_text(encoding="utf-8").strip() or None
    if cursor is None and since is None:
        fail("give --since TIME or --cursor CURSOR (or a --cursor-file that exists)")
    from storage.reading import parse_cursor

    after = None
    if cursor is not None:
        try:
            after = parse_cursor(cursor)
        except ValueError as exc:
            fail(str(exc))
    start = parse_when(since, tz, "--since")
    reader = open_reader(db_url)
    try:
        page = reader.changes(after=after, since=start, limit=limit, settle_seconds=settle_seconds)
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot read the change feed: {type(exc).__name__}: {exc}")
    finally:
        reader.close()
    if output_format == "jsonl":
        for event in page.events:
            click.echo(json.dumps(event_json(event, tz), ensure_ascii=False))
    elif page.events:
        for event in page.events:
            version = f"v{event.version_no}" if event.version_no else "-"
            extra = f" (duplicate of #{event.duplicate_of})" if event.duplicate_of else ""
            if event.chars_added is not None and event.event in ("edited", "reextracted", "reappeared"):
                extra += f" +{event.chars_added}/-{event.chars_removed}"
            click.echo(
                f"{show_time(event.at, tz)}  {event.event:<11} #{event.article_id:<6} {version:<4} "
                f"{event.source_id}  {event.title[:70]}{extra}"
            )
            click.echo(f"{'':<21}{event.url}")
    else:
        click.echo("no new events", err=True)
    if page.next_cursor is not None:
        click.echo(
            f"next cursor: {page.next_cursor}" + ("  (more events waiting)" if page.more else ""), err=True
        )
        if cursor_file is not None:
            tmp = cursor_file.with_name(cursor_file.name + ".tmp")
            tmp.write_text(page.next_cursor + "\n", encoding="utf-8")
            tmp.replace(cursor_file)  # atomic: a crash leaves the old cursor or the new one
