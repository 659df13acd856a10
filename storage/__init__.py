"""The archive: versioned articles, raw captures and run reports in SQLite or PostgreSQL.

The public entry points are `storage.archive.Archive` and `storage.db` (engines and migrations).
ORM objects never leave this package: methods take and return `schemas` records or the plain
dataclasses in `storage.snapshots`.
"""

from __future__ import annotations

from storage.archive import Archive
from storage.db import database_url, ensure_schema, make_engine, upgrade
from storage.snapshots import ArticleSnapshot, VersionSnapshot

__all__ = [
    "Archive",
    "ArticleSnapshot",
    "VersionSnapshot",
    "database_url",
    "ensure_schema",
    "make_engine",
    "upgrade",
]
