"""Read-only access for downstream readers (RELIABILITY.md security floor).

PostgreSQL: a login role that may SELECT from every table and view of the archive, and nothing else.
SQLite: open the file read-only instead (`make_engine(url, readonly=True)` / `Archive.open(url, readonly=True)`).
"""

from __future__ import annotations

import logging
import re

import psycopg
from psycopg import sql

from storage.db import normalise_url, safe_url
from storage.errors import UnsupportedDatabaseError

logger = logging.getLogger(__name__)

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def create_readonly_role(url: str, role: str, password: str) -> None:
    """Create (or update) `role` with `password`, allowed to connect and SELECT only.

    Run as the archive's owner after migrating. Default privileges extend SELECT to tables and views
    the owner creates later (future migrations). Safe to repeat: an existing role gets the new password.
    """
    if not _ROLE_NAME.match(role):
        raise ValueError(f"role name must match {_ROLE_NAME.pattern}: {role!r}")
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise UnsupportedDatabaseError("read-only roles are for PostgreSQL; open SQLite with readonly=True")
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    ident = sql.Identifier(role)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
        conn.execute(sql.SQL("{} {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}")
                     .format(verb, ident, sql.Literal(password)))
        dbname = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        for stmt in (
            "GRANT CONNECT ON DATABASE {db} TO {role}",
            "GRANT USAGE ON SCHEMA public TO {role}",
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {role}",
            "ALTER ROLE {role} SET default_transaction_read_only = on",
        ):
            conn.execute(sql.SQL(stmt).format(db=sql.Identifier(dbname), role=ident))
    logger.info("read-only role %s ready on %s", role, safe_url(parsed))
