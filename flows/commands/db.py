"""`scipol db ...`: schema migrations and database roles."""

from __future__ import annotations

import click

from flows.commands.common import apply_db, db_option, fail


@click.group("db")
def db_group() -> None:
    """Create, migrate and inspect the archive database.

    \b
    Examples:
      scipol db upgrade
      scipol db upgrade --db postgresql+psycopg://scipol@localhost/scipol
      scipol db create-readonly-role --role analyst --password '...' --db postgresql+psycopg://admin@db/scipol
    """


@db_group.command("upgrade")
@db_option
def upgrade_command(db_url: str | None) -> None:
    """Apply every pending Alembic migration (also done automatically on first use).

    \b
    Example:
      scipol db upgrade --db sqlite:///./scipol.db
    """
    from storage.db import database_url, upgrade

    apply_db(db_url)
    url = database_url()
    try:
        upgrade(url)
    except Exception as exc:  # noqa: BLE001
        fail(f"migration failed: {type(exc).__name__}: {exc}")
    click.echo("archive schema is up to date")


@db_group.command("create-readonly-role")
@db_option
@click.option("--role", required=True, help="Name of the PostgreSQL role to create or update.")
@click.option("--password", required=True, help="Its password.")
def readonly_role_command(db_url: str | None, role: str, password: str) -> None:
    """Create a PostgreSQL role that can only SELECT from the archive (for downstream readers).

    \b
    Example:
      scipol db create-readonly-role --role analyst --password s3cret --db postgresql+psycopg://admin@db/scipol
    """
    from storage.db import database_url
    from storage.roles import create_readonly_role

    apply_db(db_url)
    try:
        create_readonly_role(database_url(), role, password)
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot create role {role!r}: {type(exc).__name__}: {exc}")
    click.echo(f"role {role} can now read the archive (SELECT only)")
