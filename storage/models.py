"""The tables. Downstream teams query these directly: `docs/schema.md` documents every column and a
test keeps the two in step. Change a table only together with a migration in `storage/migrations`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import BYTEA, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

VERSION_REASONS = ("new", "edited", "reextracted", "reappeared")
CAPTURE_KINDS = ("page", "not_modified", "gone", "non_html")

# SQLite only gives autoincrementing keys to columns declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")
Blob = LargeBinary().with_variant(BYTEA(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both databases.

    PostgreSQL stores `timestamptz`. SQLite has no timestamp type: values are stored as naive UTC
    text (`YYYY-MM-DD HH:MM:SS.ffffff`), which sorts and compares correctly as text, and are given
    back tz-aware. Naive inputs are taken to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: Json}


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CaptureBody(Base):
    __tablename__ = "capture_bodies"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[bytes] = mapped_column(Blob)
    compression: Mapped[str] = mapped_column(String(16), default="zlib")
    size: Mapped[int] = mapped_column(BigInteger)
    compressed_size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Capture(Base):
    __tablename__ = "captures"
    __table_args__ = (
        # One row per fetch: a replayed batch finds its captures already here.
        UniqueConstraint("source_id", "url", "fetched_at"),
        CheckConstraint("kind IN ('page', 'not_modified', 'gone', 'non_html')", name="kind"),
        Index(None, "article_id", "fetched_at"),
        Index(None, "source_id", "url"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sha256: Mapped[str | None] = mapped_column(ForeignKey("capture_bodies.sha256"), index=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    headers: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    content_type: Mapped[str] = mapped_column(Text, default="")
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime]
    run_id: Mapped[str | None] = mapped_column(String(128), index=True)
    discovered_via: Mapped[str | None] = mapped_column(String(16))
    hint_title: Mapped[str | None] = mapped_column(Text)
    hint_published: Mapped[datetime | None]
    hint_language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]

    body: Mapped[CaptureBody | None] = relationship(lazy="raise")


class Cluster(Base):
    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    seed_article_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    canonical_url: Mapped[str] = mapped_column(Text, unique=True)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    last_fetched_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("articles.id"), index=True)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id"), index=True)
    latest_version_no: Mapped[int] = mapped_column(Integer, default=0)
    latest_text_hash: Mapped[str | None] = mapped_column(String(64), index=True)

    versions: Mapped[list[ArticleVersion]] = relationship(back_populates="article", lazy="raise")


class ArticleVersion(Base):
    __tablename__ = "article_versions"
    __table_args__ = (
        UniqueConstraint("article_id", "version_no"),
        CheckConstraint("reason IN ('new', 'edited', 'reextracted', 'reappeared')", name="reason"),
        CheckConstraint("version_no >= 1", name="version_no_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    version_no: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64), index=True)
    authors: Mapped[list[str]] = mapped_column(Json, default=list)
    published_at: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[date | None] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(16))
    language_confidence: Mapped[float] = mapped_column(Float)
    site_name: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id"), index=True)
    captured_at: Mapped[datetime]
    extractor_version: Mapped[str] = mapped_column(String(64))
    chars_added: Mapped[int] = mapped_column(Integer)
    chars_removed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]

    article: Mapped[Article] = relationship(back_populates="versions", lazy="raise")


class StoreOutcomeRow(Base):
    """What storing one capture did, once per (capture, extractor version): the idempotency record."""

    __tablename__ = "store_outcomes"
    __table_args__ = (UniqueConstraint("capture_id", "extractor_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"))
    extractor_version: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("article_versions.id"))
    run_id: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime]


class ArticleUrl(Base):
    __tablename__ = "article_urls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    first_seen_at: Mapped[datetime]


class FetchErrorRow(Base):
    __tablename__ = "fetch_errors"
    __table_args__ = (
        UniqueConstraint("source_id", "url", "reason", "at"),
        Index(None, "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    url: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]
    run_id: Mapped[str | None] = mapped_column(String(128), index=True)


class Run(Base):
    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    flow: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    report: Mapped[dict[str, Any]] = mapped_column(Json)


class MinhashBand(Base):
    __tablename__ = "minhash_bands"
    __table_args__ = (Index(None, "article_id"),)

    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)


class MinhashSignature(Base):
    __tablename__ = "minhash_signatures"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    version_no: Mapped[int] = mapped_column(Integer)
    shingling: Mapped[str] = mapped_column(String(16))
    signature: Mapped[bytes] = mapped_column(Blob)
    updated_at: Mapped[datetime]
