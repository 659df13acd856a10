"""The write path's per-item statements, run on the driver's cursor of the SQLAlchemy connection.

`Connection.execute` costs ~60 us a statement before the driver starts (cache key, parameter construction
and type processing, result and event set-up: `bench/RESULTS.md`), while SQLite inserts one small row in
3-25 us; storing a new article runs five or six such statements. So these few are compiled by SQLAlchemy
once per dialect and parameter set (paramstyle, RETURNING, bind casts, each parameter's bind processor:
`UTCDateTime`, JSON), and each execution goes straight to the DBAPI cursor, in the same connection and
transaction. What SQLAlchemy would do around a failing statement is kept: the driver's error is raised as
SQLAlchemy's `DBAPIError` subclass for it (callers retry and classify errors as before), and a lost
connection is invalidated. Engine events for cursor execution (none in scipol's own code) do not see
these statements.

Only statements whose parameters all come from the caller (or are fixed values such as a LIMIT) are
accepted: a Python-side column default or an expanding IN list raises `ValueError` when compiled.
`tests/storage/test_storage_driver.py` holds every statement to the SQL and parameters SQLAlchemy itself
sends, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from typing import Any, NoReturn, cast

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_Processor = Callable[[Any], Any] | None


class DriverStatement:
    """One statement compiled for one dialect and one set of parameter names."""

    def __init__(self, statement: ClauseElement, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=list(keys)))
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError(f"statement needs Python-side column defaults: {compiled}")
        self.sql = compiled.string
        self.positional = compiled.positional
        binds = compiled.binds
        if compiled.positional:  # `?`: the parameters in the order they appear
            named = [(name, binds[name]) for name in compiled.positiontup or ()]
        else:  # `%(name)s`: each parameter once, by the name it is rendered with
            named = list({name: bind for bind, name in compiled.bind_names.items()}.items())
        escaped: Mapping[str, str] = compiled.escaped_bind_names or {}
        given = set(keys)
        self._plan: list[tuple[str, str, Any, bool, _Processor]] = []
        for name, bind in named:
            if bind.expanding or getattr(bind, "literal_execute", False):
                raise ValueError(f"expanding or literal parameter {name!r}: {compiled}")
            if name not in given and (bind.required or bind.callable is not None):
                raise ValueError(f"parameter {name!r} not given: {compiled}")
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            # (name in the caller's mapping, name the driver expects, fixed value, given by the caller, processor)
            self._plan.append((name, escaped.get(name, name), bind.value, name in given, processor))
        self._error = dialect.loaded_dbapi.Error
        self._dialect = dialect

    def arguments(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The parameters as the driver takes them (a tuple for `?`, a dict for `%(name)s`)."""
        values = []
        for name, _, fixed, given, processor in self._plan:
            value = params[name] if given else fixed
            values.append(processor(value) if processor is not None else value)  # None too: JSON writes 'null'
        if self.positional:
            return tuple(values)
        return {escaped: value for (_, escaped, _, _, _), value in zip(self._plan, values, strict=True)}

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run once, for no rows; the number of rows it changed."""
        cursor = self._cursor(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _cursor(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        args = self.arguments(params)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self.sql, args)
        except self._error as exc:
            try:
                self._raise(conn, exc, cursor, args, many=False)
            finally:
                with suppress(Exception):  # the error above is the one to report
                    cursor.close()
        return cursor

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        args = [self.arguments(row) for row in rows]
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(self.sql, args)
        except self._error as exc:
            self._raise(conn, exc, cursor, args, many=True)
        finally:
            cursor.close()

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None (closes the cursor)."""
        cursor = self._cursor(conn, params)
        try:
            row = cursor.fetchone()
        except self._error as exc:
            self._raise(conn, exc, cursor, self.arguments(params), many=False)
        finally:
            cursor.close()
        return row[0] if row is not None else None

    def _raise(self, conn: Connection, exc: Any, cursor: Any, args: Any, *, many: bool) -> NoReturn:
        dbapi_conn = conn.connection.dbapi_connection
        lost = bool(self._dialect.is_disconnect(exc, dbapi_conn, cursor))
        error = DBAPIError.instance(self.sql, args, exc, self._error, connection_invalidated=lost,
                                    dialect=self._dialect, ismulti=many)
        if lost:
            conn.invalidate(error)
        raise error from exc


_compiled: weakref.WeakKeyDictionary[Dialect, dict[tuple[ClauseElement, tuple[str, ...]], DriverStatement]] = (
    weakref.WeakKeyDictionary())
_lock = threading.Lock()


def prepared(conn: Connection, statement: ClauseElement, keys: Sequence[str]) -> DriverStatement:
    """`statement` compiled for `conn`'s dialect and these parameter names, once per dialect instance."""
    dialect = conn.dialect
    key = (statement, tuple(keys))
    found = _compiled.get(dialect, {}).get(key)
    if found is None:
        found = DriverStatement(statement, dialect, keys)
        with _lock:
            _compiled.setdefault(dialect, {})[key] = found
    return found


def execute(conn: Connection, statement: ClauseElement, params: Mapping[str, Any]) -> int:
    return prepared(conn, statement, tuple(params)).execute(conn, params)


def executemany(conn: Connection, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> None:
    """Every row with the first row's keys (compiled for those)."""
    if rows:
        prepared(conn, statement, tuple(rows[0])).executemany(conn, rows)


def scalar(conn: Connection, statement: ClauseElement, params: Mapping[str, Any]) -> Any:
    return prepared(conn, statement, tuple(params)).scalar(conn, params)
