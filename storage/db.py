"""Engines and migrations: which database, how to connect to it safely, and how to bring it to head.

SQLite is the default (one file, WAL); PostgreSQL is for production. Both get the same schema from
the Alembic migrations in `storage/migrations`, run programmatically (no alembic.ini needed).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.pool import StaticPool

from storage.errors import SchemaNotReadyError, UnsupportedDatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///./scipol.db"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30
# Any constant works; it only has to be the same in every process that migrates this database.
_MIGRATION_LOCK_KEY = 0x5C1_901


def database_url() -> str:
    """The archive URL: `SCIPOL_DATABASE_URL`, or a SQLite file in the working directory."""
    return os.environ.get("SCIPOL_DATABASE_URL") or DEFAULT_DATABASE_URL


def safe_url(url: str | URL) -> str:
    """The URL with its password masked, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def normalise_url(url: str | URL) -> URL:
    """psycopg 3 for PostgreSQL (`postgresql://` and `postgres://` accepted), pysqlite for SQLite."""
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://"):]
    parsed = make_url(text)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    raise UnsupportedDatabaseError(f"unsupported database {parsed.drivername!r} in {safe_url(parsed)}")


def is_readonly(engine: Engine | Connection) -> bool:
    return bool(engine.get_execution_options().get("scipol_readonly"))


def make_engine(url: str | None = None, *, readonly: bool = False) -> Engine:
    """An engine for the archive at `url` (default: `database_url()`).

    SQLite: WAL journal, 30 s busy timeout, foreign keys on, and `BEGIN IMMEDIATE` for every
    transaction not marked `scipol_read`, so writers queue for the lock up front instead of failing
    on upgrade from a read lock ("database is locked"). `readonly` opens the file with `mode=ro`.
    PostgreSQL: psycopg 3; `readonly` sets `default_transaction_read_only`.
    """
    parsed = normalise_url(url or database_url())
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed, readonly=readonly)
    else:
        connect_args: dict[str, Any] = {}
        if readonly:
            connect_args["options"] = "-c default_transaction_read_only=on"
        engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    if readonly:
        engine = engine.execution_options(scipol_readonly=True)
    return engine


def _sqlite_engine(url: URL, *, readonly: bool) -> Engine:
    database = url.database or ""
    memory = database in ("", ":memory:") or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    if memory:
        # One shared connection, or every checkout would see its own empty database.
        kwargs["poolclass"] = StaticPool
        kwargs["connect_args"]["check_same_thread"] = False
    elif readonly:
        path = Path(database).resolve()
        if not path.exists():
            raise SchemaNotReadyError(f"cannot open {path} read-only: no such file")
        url = make_url(f"sqlite+pysqlite:///file:{path}?mode=ro&uri=true")
    elif not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that `begin` below decides.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not readonly and not memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: a commit survives a process crash (not a power cut) without an fsync each.
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if readonly or options.get("scipol_readonly") or options.get("scipol_read"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


HEAD_REVISION = "0004"
"""The newest migration in `storage/migrations/versions` (a test checks it against Alembic's own head).
A database already at it needs no migration, and finding that out then imports no Alembic: ~0.2 s off
every run's start-up, which is a large part of a run over an unchanged site."""


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for our migrations; `url` is needed only for command-line style use."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Dated file names: versions/2026_11_25_<rev>_<slug>.py
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    if url:
        cfg.set_main_option("sqlalchemy.url", normalise_url(url).render_as_string(hide_password=False)
                            .replace("%", "%%"))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect().execution_options(scipol_read=True) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _at_head(engine: Engine) -> bool:
    """Whether the database records exactly `HEAD_REVISION` (one plain query, no Alembic)."""
    try:
        with engine.connect().execution_options(scipol_read=True) as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except (OperationalError, ProgrammingError):
        return False  # no version table yet (an empty database): Alembic decides
    return rows == [HEAD_REVISION]


def upgrade(url: str | None = None) -> None:
    """`alembic upgrade head` on the archive at `url` (default: `database_url()`)."""
    engine = make_engine(url)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()


def upgrade_engine(engine: Engine) -> None:
    """Migrate to head inside one transaction that holds the migration lock.

    Both databases have transactional DDL, so a migration either completes or leaves nothing. Several
    processes may start on an empty database at once: SQLite's BEGIN IMMEDIATE and PostgreSQL's
    advisory lock queue them, and Alembic reads the revision inside the lock, so the later ones find
    the schema at head and do nothing.
    """
    if is_readonly(engine):
        raise SchemaNotReadyError(f"cannot migrate {safe_url(engine.url)}: opened read-only")
    from alembic import command

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    logger.info("archive schema at %s: %s", head_revision(), safe_url(engine.url))


_ready: set[str] = set()
_ready_lock = threading.Lock()


def ensure_schema(engine_or_url: Engine | str | None = None) -> None:
    """Upgrade the archive when it is empty or behind; checked once per database per process.

    Raises `SchemaNotReadyError` for read-only engines that are not at head, and for databases at a
    revision this code does not know (written by newer code).
    """
    if isinstance(engine_or_url, Engine):
        engine, owned = engine_or_url, False
    else:
        engine, owned = make_engine(engine_or_url), True
    key = engine.url.render_as_string(hide_password=False)
    try:
        with _ready_lock:
            if key in _ready:
                return
            if _at_head(engine):
                _ready.add(key)
                return
            from alembic.script import ScriptDirectory

            head = head_revision()
            current = current_revision(engine)
            if current != head:
                known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
                if current is not None and current not in known:
                    raise SchemaNotReadyError(
                        f"{safe_url(engine.url)} is at unknown revision {current} (newer code?); head is {head}")
                if is_readonly(engine):
                    raise SchemaNotReadyError(
                        f"{safe_url(engine.url)} is at revision {current}, head is {head}; "
                        "run `scipol db upgrade` (or open it read-write once) to migrate")
                logger.info("migrating archive %s from %s to %s", safe_url(engine.url), current, head)
                upgrade_engine(engine)
            _ready.add(key)
    finally:
        if owned:
            engine.dispose()
