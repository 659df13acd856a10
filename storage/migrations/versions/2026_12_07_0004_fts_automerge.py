"""SQLite: let FTS5 merge the search index's segments 8 at a time instead of 4.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

Every store transaction writes the articles it indexed as one new FTS5 segment, and FTS5 merges
segments of one level as soon as `automerge` of them exist (default 4): an archive written 50
articles at a time rewrote its index several times over. With 8, storing a new article costs ~6 %
less CPU (`bench.store`, 2,000 items: 1.90 -> 1.78 ms an item; the index alone 0.60 -> 0.43 ms an
article at 2,000 articles, 0.68 -> 0.56 at 8,000) and searches took as long as before (5 trigram
queries over 2,000 and 8,000 articles, bench/RESULTS.md). The value is stored in the FTS5 table's
own configuration, so it holds for every writer. PostgreSQL (pg_trgm GIN indexes) is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTOMERGE = 8
_FTS5_DEFAULT_AUTOMERGE = 4


def _set_automerge(value: int) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"INSERT INTO article_search(article_search, rank) VALUES ('automerge', {int(value)})")


def upgrade() -> None:
    _set_automerge(AUTOMERGE)


def downgrade() -> None:
    _set_automerge(_FTS5_DEFAULT_AUTOMERGE)
