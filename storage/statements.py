"""The SQL statements of the write path, built once per dialect.

Building SQLAlchemy expressions costs more than running them on a small row, and every stored item
runs about a dozen; parameters are bound at execution instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.dedupe import BANDS
from storage.models import (
    Article,
    ArticleUrl,
    ArticleVersion,
    Capture,
    CaptureBody,
    Cluster,
    MinhashBand,
    MinhashSignature,
    Source,
    StoreOutcomeRow,
)

ARTICLE_COLUMNS = (Article.id, Article.latest_version_no, Article.removed_at, Article.last_seen_at,
                   Article.last_fetched_at, Article.duplicate_of, Article.cluster_id)


@dataclass(frozen=True)
class Statements:
    ensure_source: Any
    replayed: Any
    lock_articles: Any
    insert_article_id: Any
    lock_article_by_url: Any
    lock_article_by_alias: Any
    insert_article_url: Any
    body_exists: Any
    insert_body: Any
    insert_capture: Any
    capture_id: Any
    prior_outcome: Any
    insert_outcome: Any
    latest_version: Any
    insert_version: Any
    update_article: Any
    exact_duplicate: Any
    delete_bands: Any
    delete_signature: Any
    insert_signature: Any
    near_candidates: Any
    chunk_bands: Any
    signatures_of: Any
    cluster_of: Any
    insert_cluster: Any
    set_cluster_if_none: Any
    delete_cluster: Any


@cache
def statements(dialect: str) -> Statements:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    original = func.coalesce(Article.duplicate_of, Article.id)
    return Statements(
        ensure_source=insert(Source).on_conflict_do_nothing(index_elements=["id"]),
        # The recorded outcomes of a chunk of items in one statement: each list narrows the unique
        # (source, URL, fetch time) index; the caller keeps the rows whose four values match an item.
        replayed=select(Capture.source_id, Capture.url, Capture.fetched_at, StoreOutcomeRow.extractor_version,
                        StoreOutcomeRow.outcome)
        .join(Capture, Capture.id == StoreOutcomeRow.capture_id).where(
            Capture.source_id.in_(bindparam("source_ids", expanding=True)),
            Capture.url.in_(bindparam("urls", expanding=True)),
            Capture.fetched_at.in_(bindparam("fetched_ats", expanding=True)),
            StoreOutcomeRow.extractor_version.in_(bindparam("extractor_versions", expanding=True))),
        # PostgreSQL locks the rows in ORDER BY order (LockRows runs above the sort): every writer takes
        # the articles of a chunk in one order.
        lock_articles=select(Article.id).where(or_(
            Article.canonical_url.in_(bindparam("canonical_urls", expanding=True)),
            Article.id.in_(select(ArticleUrl.article_id).where(
                ArticleUrl.url.in_(bindparam("alias_urls", expanding=True))))))
        .order_by(Article.id).with_for_update(),
        # Answers only the new row's id (the rest is what the caller inserted): it runs on the driver
        # (storage/driver.py), which leaves result processing (dates) to its caller.
        insert_article_id=insert(Article).on_conflict_do_nothing(index_elements=["canonical_url"])
        .returning(Article.id),
        # FOR UPDATE serialises version numbering per article on PostgreSQL; SQLite does not render
        # it (BEGIN IMMEDIATE already serialises writers).
        lock_article_by_url=select(*ARTICLE_COLUMNS).where(Article.canonical_url == bindparam("url"))
        .with_for_update(),
        # The article a capture's URLs were first recorded for, found and locked in one round trip.
        lock_article_by_alias=select(*ARTICLE_COLUMNS).where(Article.id == select(ArticleUrl.article_id).where(
            ArticleUrl.url.in_(bindparam("urls", expanding=True))).order_by(ArticleUrl.id).limit(1)
            .scalar_subquery()).with_for_update(),
        insert_article_url=insert(ArticleUrl).on_conflict_do_nothing(index_elements=["url"]),
        body_exists=select(CaptureBody.sha256).where(CaptureBody.sha256 == bindparam("sha")),
        insert_body=insert(CaptureBody).on_conflict_do_nothing(index_elements=["sha256"]),
        insert_capture=insert(Capture).on_conflict_do_nothing(index_elements=["source_id", "url", "fetched_at"])
        .returning(Capture.id),
        capture_id=select(Capture.id).where(Capture.source_id == bindparam("source_id"),
                                            Capture.url == bindparam("url"),
                                            Capture.fetched_at == bindparam("fetched_at")),
        prior_outcome=select(StoreOutcomeRow.outcome).where(
            StoreOutcomeRow.capture_id == bindparam("capture_id"),
            StoreOutcomeRow.extractor_version == bindparam("extractor_version")),
        insert_outcome=insert(StoreOutcomeRow),
        latest_version=select(ArticleVersion.version_no, ArticleVersion.title, ArticleVersion.text,
                              ArticleVersion.text_hash, ArticleVersion.extractor_version, Capture.sha256)
        .outerjoin(Capture, Capture.id == ArticleVersion.capture_id)
        .where(ArticleVersion.article_id == bindparam("article_id"),
               ArticleVersion.version_no == bindparam("version_no")),
        insert_version=insert(ArticleVersion).returning(ArticleVersion.id),
        update_article=update(Article).where(Article.id == bindparam("b_id")),
        exact_duplicate=select(original).join(ArticleVersion, ArticleVersion.article_id == Article.id)
        .where(ArticleVersion.text_hash == bindparam("digest"), Article.id != bindparam("article_id"))
        .order_by(Article.first_seen_at, Article.id).limit(1),
        delete_bands=delete(MinhashBand).where(MinhashBand.article_id == bindparam("article_id")),
        delete_signature=delete(MinhashSignature).where(MinhashSignature.article_id == bindparam("article_id")),
        insert_signature=insert(MinhashSignature),
        near_candidates=select(MinhashSignature.article_id, MinhashSignature.shingling, MinhashSignature.signature)
        .where(MinhashSignature.article_id.in_(
            select(MinhashBand.article_id).where(
                # One equality pair per band, not `(band, bucket) IN (VALUES ...)`: SQLite plans the
                # latter as a scan of the whole table (1.9 s per lookup at 1M articles, bench/
                # near_duplicates.py), the former as 16 index probes.
                or_(*(and_(MinhashBand.band == band, MinhashBand.bucket_hash == bindparam(f"bucket{band}"))
                      for band in range(BANDS))),
                MinhashBand.article_id != bindparam("article_id"))))
        .order_by(MinhashSignature.article_id),
        # The stored bands of a whole chunk's items: per band an IN list, so each band is index probes.
        chunk_bands=select(MinhashBand.band, MinhashBand.bucket_hash, MinhashBand.article_id).where(
            or_(*(and_(MinhashBand.band == band,
                       MinhashBand.bucket_hash.in_(bindparam(f"buckets{band}", expanding=True)))
                  for band in range(BANDS)))),
        signatures_of=select(MinhashSignature.article_id, MinhashSignature.shingling, MinhashSignature.signature)
        .where(MinhashSignature.article_id.in_(bindparam("ids", expanding=True))),
        cluster_of=select(Article.cluster_id).where(Article.id == bindparam("id")),
        insert_cluster=insert(Cluster).returning(Cluster.id),
        set_cluster_if_none=update(Article).where(Article.id == bindparam("b_id"), Article.cluster_id.is_(None)),
        delete_cluster=delete(Cluster).where(Cluster.id == bindparam("id")),
    )
