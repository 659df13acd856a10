"""The few errors the archive raises on purpose."""

from __future__ import annotations


class StorageError(Exception):
    """Base class for errors raised by `storage`."""


class SchemaNotReadyError(StorageError):
    """Raised by `ensure_schema` and `Archive.open(readonly=True)` when the database has no schema or an
    older one and may not be migrated (read-only access, or an unknown revision from newer code)."""


class ReadOnlyArchiveError(StorageError):
    """Raised by `Archive` write methods when the archive was opened read-only."""


class UnsupportedDatabaseError(StorageError):
    """Raised by `make_engine` for URLs that are neither SQLite nor PostgreSQL."""
