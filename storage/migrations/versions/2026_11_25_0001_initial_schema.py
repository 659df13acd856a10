"""Initial schema: sources, captures and bodies, articles and versions, runs, errors, near-duplicate
tables, the public views and the full-text search table.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

The view and search DDL is frozen in `storage.views.VIEWS_V1` and `storage.search.SEARCH_DDL_V1`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.search import DROP_SEARCH_DDL_V1, SEARCH_DDL_V1
from storage.views import create_views_v1, drop_views_v1

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('capture_bodies',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('body', sa.LargeBinary().with_variant(postgresql.BYTEA(), 'postgresql'), nullable=False),
    sa.Column('compression', sa.String(length=16), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('compressed_size', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_capture_bodies'))
    )
    op.create_table('clusters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('seed_article_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clusters'))
    )
    op.create_table('runs',
    sa.Column('run_id', sa.String(length=128), nullable=False),
    sa.Column('flow', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('report', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_runs'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_started_at'), ['started_at'], unique=False)

    op.create_table('sources',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sources'))
    )
    op.create_table('articles',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('canonical_url', sa.Text(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duplicate_of', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('cluster_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('latest_version_no', sa.Integer(), nullable=False),
    sa.Column('latest_text_hash', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['cluster_id'], ['clusters.id'], name=op.f('fk_articles_cluster_id_clusters')),
    sa.ForeignKeyConstraint(['duplicate_of'], ['articles.id'], name=op.f('fk_articles_duplicate_of_articles')),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_articles_source_id_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_articles')),
    sa.UniqueConstraint('canonical_url', name=op.f('uq_articles_canonical_url'))
    )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_articles_cluster_id'), ['cluster_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_articles_duplicate_of'), ['duplicate_of'], unique=False)
        batch_op.create_index(batch_op.f('ix_articles_latest_text_hash'), ['latest_text_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_articles_source_id'), ['source_id'], unique=False)

    op.create_table('fetch_errors',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('run_id', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_fetch_errors_source_id_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fetch_errors')),
    sa.UniqueConstraint('source_id', 'url', 'reason', 'at', name=op.f('uq_fetch_errors_source_id_url_reason_at'))
    )
    with op.batch_alter_table('fetch_errors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fetch_errors_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_fetch_errors_run_id'), ['run_id'], unique=False)

    op.create_table('article_urls',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('article_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_urls_article_id_articles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_urls')),
    sa.UniqueConstraint('url', name=op.f('uq_article_urls_url'))
    )
    with op.batch_alter_table('article_urls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_urls_article_id'), ['article_id'], unique=False)

    op.create_table('captures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('article_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('final_url', sa.Text(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('content_type', sa.Text(), nullable=False),
    sa.Column('etag', sa.Text(), nullable=True),
    sa.Column('last_modified', sa.Text(), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('run_id', sa.String(length=128), nullable=True),
    sa.Column('discovered_via', sa.String(length=16), nullable=True),
    sa.Column('hint_title', sa.Text(), nullable=True),
    sa.Column('hint_published', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hint_language', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('page', 'not_modified', 'gone', 'non_html')", name=op.f('ck_captures_kind')),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_captures_article_id_articles')),
    sa.ForeignKeyConstraint(['sha256'], ['capture_bodies.sha256'], name=op.f('fk_captures_sha256_capture_bodies')),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_captures_source_id_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_captures')),
    sa.UniqueConstraint('source_id', 'url', 'fetched_at', name=op.f('uq_captures_source_id_url_fetched_at'))
    )
    with op.batch_alter_table('captures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_captures_article_id_fetched_at'), ['article_id', 'fetched_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_captures_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_captures_sha256'), ['sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_captures_source_id_url'), ['source_id', 'url'], unique=False)

    op.create_table('minhash_bands',
    sa.Column('band', sa.Integer(), nullable=False),
    sa.Column('bucket_hash', sa.BigInteger(), nullable=False),
    sa.Column('article_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_minhash_bands_article_id_articles')),
    sa.PrimaryKeyConstraint('band', 'bucket_hash', 'article_id', name=op.f('pk_minhash_bands'))
    )
    with op.batch_alter_table('minhash_bands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_minhash_bands_article_id'), ['article_id'], unique=False)

    op.create_table('minhash_signatures',
    sa.Column('article_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version_no', sa.Integer(), nullable=False),
    sa.Column('shingling', sa.String(length=16), nullable=False),
    sa.Column('signature', sa.LargeBinary().with_variant(postgresql.BYTEA(), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_minhash_signatures_article_id_articles')),
    sa.PrimaryKeyConstraint('article_id', name=op.f('pk_minhash_signatures'))
    )
    op.create_table('article_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('article_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version_no', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('authors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('published_at', sa.Date(), nullable=True),
    sa.Column('updated_at', sa.Date(), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('language_confidence', sa.Float(), nullable=False),
    sa.Column('site_name', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('capture_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('captured_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('extractor_version', sa.String(length=64), nullable=False),
    sa.Column('chars_added', sa.Integer(), nullable=False),
    sa.Column('chars_removed', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("reason IN ('new', 'edited', 'reextracted', 'reappeared')", name=op.f('ck_article_versions_reason')),
    sa.CheckConstraint('version_no >= 1', name=op.f('ck_article_versions_version_no_positive')),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_versions_article_id_articles')),
    sa.ForeignKeyConstraint(['capture_id'], ['captures.id'], name=op.f('fk_article_versions_capture_id_captures')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_versions')),
    sa.UniqueConstraint('article_id', 'version_no', name=op.f('uq_article_versions_article_id_version_no'))
    )
    with op.batch_alter_table('article_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_versions_capture_id'), ['capture_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_article_versions_text_hash'), ['text_hash'], unique=False)

    op.create_table('store_outcomes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('capture_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('extractor_version', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('article_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('run_id', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_store_outcomes_article_id_articles')),
    sa.ForeignKeyConstraint(['capture_id'], ['captures.id'], name=op.f('fk_store_outcomes_capture_id_captures')),
    sa.ForeignKeyConstraint(['version_id'], ['article_versions.id'], name=op.f('fk_store_outcomes_version_id_article_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_outcomes')),
    sa.UniqueConstraint('capture_id', 'extractor_version', name=op.f('uq_store_outcomes_capture_id_extractor_version'))
    )
    with op.batch_alter_table('store_outcomes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_store_outcomes_article_id'), ['article_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_store_outcomes_run_id'), ['run_id'], unique=False)

    dialect = op.get_bind().dialect.name
    for ddl in SEARCH_DDL_V1[dialect]:
        op.execute(ddl)
    for ddl in create_views_v1():
        op.execute(ddl)


def downgrade() -> None:
    for ddl in drop_views_v1():
        op.execute(ddl)
    for ddl in DROP_SEARCH_DDL_V1:
        op.execute(ddl)
    with op.batch_alter_table('store_outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_store_outcomes_run_id'))
        batch_op.drop_index(batch_op.f('ix_store_outcomes_article_id'))

    op.drop_table('store_outcomes')
    with op.batch_alter_table('article_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_versions_text_hash'))
        batch_op.drop_index(batch_op.f('ix_article_versions_capture_id'))

    op.drop_table('article_versions')
    op.drop_table('minhash_signatures')
    with op.batch_alter_table('minhash_bands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_minhash_bands_article_id'))

    op.drop_table('minhash_bands')
    with op.batch_alter_table('captures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_captures_source_id_url'))
        batch_op.drop_index(batch_op.f('ix_captures_sha256'))
        batch_op.drop_index(batch_op.f('ix_captures_run_id'))
        batch_op.drop_index(batch_op.f('ix_captures_article_id_fetched_at'))

    op.drop_table('captures')
    with op.batch_alter_table('article_urls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_urls_article_id'))

    op.drop_table('article_urls')
    with op.batch_alter_table('fetch_errors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fetch_errors_run_id'))
        batch_op.drop_index(batch_op.f('ix_fetch_errors_at'))

    op.drop_table('fetch_errors')
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_articles_source_id'))
        batch_op.drop_index(batch_op.f('ix_articles_latest_text_hash'))
        batch_op.drop_index(batch_op.f('ix_articles_duplicate_of'))
        batch_op.drop_index(batch_op.f('ix_articles_cluster_id'))

    op.drop_table('articles')
    op.drop_table('sources')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_started_at'))

    op.drop_table('runs')
    op.drop_table('clusters')
    op.drop_table('capture_bodies')
