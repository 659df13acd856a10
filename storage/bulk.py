"""Many rows into one table in one statement.

psycopg's `executemany` runs the statement once per row (pipelined, but still a Bind/Execute and a
result each): a chunk of 50 new articles ends with ~1,000 such rows (16 MinHash bands an article,
plus outcomes, signatures, bodies, search rows), ~10 ms of this process's CPU and as many executions
on the server (`bench/RESULTS.md`, ninth session). On PostgreSQL the rows go instead as one array per
column into `INSERT ... SELECT FROM unnest(...)`: one execution, whatever the row count. SQLite's
`executemany` already loops in C inside the library; it keeps it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, Table, insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect

from storage.models import Base


@dataclass(frozen=True)
class _Unnest:
    """One table's multi-row INSERT for PostgreSQL, for one set of columns."""

    sql: str
    processors: tuple[Callable[[Any], Any] | None, ...]
    """Each column's bind processor (UTCDateTime's, for one), applied to every value of its array."""

    def params(self, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for i, (key, process) in enumerate(zip(keys, self.processors, strict=True)):
            values = [row[key] for row in rows]
            out[f"c{i}"] = values if process is None else [process(v) for v in values]
        return out


_plans: weakref.WeakKeyDictionary[Dialect, dict[tuple[Table, tuple[str, ...], bool], _Unnest]] = (
    weakref.WeakKeyDictionary())
"""Per dialect (an engine's: its bind processors), as storage/driver.py keeps its statements."""


def _unnest(table: Table, keys: tuple[str, ...], skip_conflicts: bool, dialect: Dialect) -> _Unnest:
    plans = _plans.get(dialect)
    if plans is None:
        plans = _plans.setdefault(dialect, {})
    plan = plans.get((table, keys, skip_conflicts))
    if plan is None:
        plan = plans[(table, keys, skip_conflicts)] = _compile(table, keys, skip_conflicts, dialect)
    return plan


def _compile(table: Table, keys: tuple[str, ...], skip_conflicts: bool, dialect: Dialect) -> _Unnest:
    columns = [table.c[key] for key in keys]
    # An explicit element type per array: a list psycopg could not type (all NULL) still casts.
    arrays = ", ".join(f"CAST(%(c{i})s AS {col.type.compile(dialect=dialect)}[])" for i, col in enumerate(columns))
    names = ", ".join(dialect.identifier_preparer.quote(col.name) for col in columns)
    picked = ", ".join(f"r.c{i}" for i in range(len(columns)))
    aliases = ", ".join(f"c{i}" for i in range(len(columns)))
    # WITH ORDINALITY + ORDER BY: rows are inserted (and take their serial ids) in the given order.
    sql = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) "
           f"SELECT {picked} FROM unnest({arrays}) WITH ORDINALITY AS r({aliases}, n) ORDER BY r.n")
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    processors = tuple(col.type.dialect_impl(dialect).bind_processor(dialect) for col in columns)
    return _Unnest(sql, processors)


@cache
def _sqlite_insert(table: Table, skip_conflicts: bool) -> Any:
    return sqlite_insert(table).on_conflict_do_nothing() if skip_conflicts else insert(table)


def insert_many(conn: Connection, model: type[Base], rows: Sequence[Mapping[str, Any]], *,
                skip_conflicts: bool = False) -> None:
    """Insert `rows` (each with the first row's keys) into `model`'s table; `skip_conflicts`: a row that
    breaks a unique constraint is left out (`ON CONFLICT DO NOTHING`, as `on_conflict_do_nothing()`)."""
    if not rows:
        return
    table = cast(Table, model.__table__)
    if conn.dialect.name != "postgresql":
        conn.execute(_sqlite_insert(table, skip_conflicts), list(rows))
        return
    keys = tuple(rows[0])
    plan = _unnest(table, keys, skip_conflicts, conn.dialect)
    conn.exec_driver_sql(plan.sql, plan.params(keys, rows))
