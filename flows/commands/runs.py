"""`scipol runs`: what recent runs did."""

from __future__ import annotations

import click

from flows.commands.common import apply_db, db_option, fail


@click.command("runs")
@db_option
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one run per line.")
def runs_command(db_url: str | None, limit: int, as_json: bool) -> None:
    """Show the most recent runs with their per-source counts.

    \b
    Example:
      scipol runs --limit 5
    """
    from flows.runs import format_report
    from storage.archive import Archive

    apply_db(db_url)
    try:
        archive = Archive.open(readonly=True)
        reports = archive.recent_runs(limit)
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot read runs: {type(exc).__name__}: {exc}")
    if not reports:
        click.echo("no runs yet")
        return
    for report in reports:
        click.echo(report.model_dump_json() if as_json else format_report(report) + "\n")
