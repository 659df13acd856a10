"""`scipol verify`: re-hash every stored raw capture."""

from __future__ import annotations

import click

from flows.commands.common import apply_db, db_option, fail


@click.command("verify")
@db_option
def verify_command(db_url: str | None) -> None:
    """Re-hash every stored raw capture body and report any that no longer match its SHA-256.

    Exit code 1 when a mismatch is found.

    \b
    Example:
      scipol verify --db sqlite:///./scipol.db
    """
    from storage.archive import Archive

    apply_db(db_url)
    try:
        archive = Archive.open(readonly=True)
        total = archive.counts().get("capture_bodies", 0)
        problems = list(archive.verify_captures())
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot verify the archive: {type(exc).__name__}: {exc}")
    for sha, problem in problems:
        click.echo(f"{sha}  {problem}")
    click.echo(f"checked {total} stored bodies: {len(problems)} problem(s)")
    if problems:
        raise SystemExit(1)
