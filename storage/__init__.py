"""The archive: versioned articles, raw captures and run reports in SQLite or PostgreSQL.

The public entry points are `storage.archive.Archive` and `storage.db` (engines and migrations).
ORM objects never leave this package: methods take and return `schemas` records or the plain
dataclasses in `storage.snapshots`.

The names below are imported on first use: extraction workers import `storage.dedupe` (the
near-duplicate signature, pure Python) and must not pay for SQLAlchemy and the models (~1 CPU-s).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.archive import Archive
    from storage.db import database_url, ensure_schema, make_engine, upgrade
    from storage.snapshots import ArticleSnapshot, VersionSnapshot

_WHERE = {
    "Archive": "storage.archive",
    "ArticleSnapshot": "storage.snapshots",
    "VersionSnapshot": "storage.snapshots",
    "database_url": "storage.db",
    "ensure_schema": "storage.db",
    "make_engine": "storage.db",
    "upgrade": "storage.db",
}

__all__ = [
    "Archive",
    "ArticleSnapshot",
    "VersionSnapshot",
    "database_url",
    "ensure_schema",
    "make_engine",
    "upgrade",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
