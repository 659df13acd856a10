"""PostgreSQL: index two-character Chinese terms for search (Han bigrams in a GIN-indexed array).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

SQLite is unchanged (its FTS5 table answers short terms by a bounded LIKE). Existing rows are
backfilled in batches, so an upgrade of a large archive does not hold every text in memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.search import DROP_SEARCH_DDL_V2_POSTGRESQL, SEARCH_DDL_V2_POSTGRESQL, cjk_bigrams

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 500


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for statement in SEARCH_DDL_V2_POSTGRESQL:
        op.execute(statement)
    last = 0
    while True:
        rows = bind.execute(sa.text("SELECT article_id, title, text FROM article_search WHERE article_id > :last "
                                    "ORDER BY article_id LIMIT :n"), {"last": last, "n": _BATCH}).all()
        if not rows:
            break
        for article_id, title, body in rows:
            bind.execute(sa.text("UPDATE article_search SET cjk_bigrams = :b WHERE article_id = :id"),
                         {"b": cjk_bigrams(title, body), "id": article_id})
        last = rows[-1][0]


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in DROP_SEARCH_DDL_V2_POSTGRESQL:
        op.execute(statement)
