"""Alembic environment for the archive. Run through `storage.db.upgrade` (or `alembic_config()`).

`storage.db.upgrade_engine` passes an open connection in `config.attributes["connection"]`, already
inside the transaction that holds the migration lock; a URL in the config is used otherwise.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import create_engine

from storage.models import Base, UTCDateTime
from storage.search import is_search_table

config = context.config
target_metadata = Base.metadata


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    # The full-text tables are dialect-specific (an FTS5 virtual table and its shadow tables on
    # SQLite), created by raw DDL in the migrations and not part of the ORM metadata.
    return not (type_ == "table" and name is not None and is_search_table(name))


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Keep migrations free of imports from live code: render our UTC type as what it stores.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure_and_run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
        include_name=include_name,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    configure_and_run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url: use storage.db.upgrade()")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            configure_and_run(conn)
    finally:
        engine.dispose()
