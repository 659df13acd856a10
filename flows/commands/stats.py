"""`scipol stats`: what the archive holds, per source."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import click

from flows.commands.access import db_option, fail, open_reader, show_time, tz_option, zone

if TYPE_CHECKING:
    from storage.reading import ArchiveStats


def _jsonable(value: Any, tz: tzinfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v, tz) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v, tz) for v in value]
    return value


def _mix(languages: dict[str, int], total: int) -> str:
    if not total:
        return "-"
    return " ".join(f"{lang} {100 * n / total:.0f}%" for lang, n in list(languages.items())[:4])


@click.command("stats", short_help="Per-source counts, errors, last successful run, languages.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@tz_option
@db_option
def stats_command(as_json: bool, tz_name: str | None, db_url: str | None) -> None:
    """Per source: articles, versions, removals, duplicates, fetch errors, last successful run and the
    language mix; and the same for the whole archive.

    \b
    Example:
      scipol stats
      scipol stats --json --db postgresql+psycopg://analyst@db/scipol
    """
    tz = zone(tz_name)
    reader = open_reader(db_url)
    try:
        stats = reader.stats()
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot read statistics: {type(exc).__name__}: {exc}")
    finally:
        reader.close()
    if as_json:
        click.echo(json.dumps(_jsonable(asdict(stats), tz), ensure_ascii=False))
        return
    _print(stats, tz)


def _print(stats: ArchiveStats, tz: tzinfo) -> None:
    header = (
        "source",
        "articles",
        "versions",
        "removed",
        "dupes",
        "errors",
        "last successful run",
        "languages",
    )
    rows = [
        (
            s.source_id,
            str(s.articles),
            str(s.versions),
            str(s.removed),
            str(s.duplicates),
            str(s.errors),
            show_time(s.last_success_at, tz) if s.last_success_at else "never",
            _mix(s.languages, s.articles),
        )
        for s in stats.sources
    ]
    rows.append(
        (
            "total",
            str(stats.articles),
            str(stats.versions),
            str(sum(s.removed for s in stats.sources)),
            str(sum(s.duplicates for s in stats.sources)),
            str(sum(s.errors for s in stats.sources)),
            show_time(stats.last_success_at, tz) if stats.last_success_at else "never",
            _mix(stats.languages, stats.articles),
        )
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    numeric = {1, 2, 3, 4, 5}

    def fmt(row: tuple[str, ...]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(cells))

    click.echo(fmt(header).rstrip())
    for n, row in enumerate(rows):
        if n == len(rows) - 1:
            click.echo("  ".join("-" * w for w in widths))
        click.echo(fmt(row).rstrip())
    click.echo("")
    last = (
        f"{stats.last_run_id} ({stats.last_run_status}, started {show_time(stats.last_run_started_at, tz)})"
        if stats.last_run_id
        else "none"
    )
    click.echo(f"runs: {stats.runs}; last run: {last}")
