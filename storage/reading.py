"""The read side for downstream users: search, one article with its versions, the change feed, streaming
export rows and per-source statistics.

Everything here reads the public views (`latest_articles`, `article_history`) and, where the views say
nothing (change feed, statistics), the tables they are built on. It works on SQLite and PostgreSQL and
is meant for engines opened read-only (`make_engine(url, readonly=True)`); `Reader.open` does that.

The change feed is the store log: `store_outcomes` gets one row per stored capture, in the same
transaction as the version it made, so its id orders events by when they were stored (not by when the
page was fetched: a re-extraction or a late batch stores old fetches today, and a poller must still
see them). A cursor is `<stored_at ISO>|<store_outcomes.id>`; only the id decides the position, the
time is there for people reading it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Connection,
    Date,
    Engine,
    Float,
    Integer,
    Select,
    String,
    Text,
    and_,
    case,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import ARRAY as PG_ARRAY

from storage.db import ensure_schema, make_engine, safe_url
from storage.models import UTCDateTime
from storage.search import is_cjk_bigram

logger = logging.getLogger(__name__)

EXPORT_CHUNK = 1000
"""Rows fetched per round trip when streaming (server-side cursor on PostgreSQL)."""
DEFAULT_SETTLE_SECONDS = 30.0
"""PostgreSQL hands out ids before commit, so a transaction holding id 10 can commit after one holding
id 11. The feed stops at rows stored within this many seconds, long enough for any store transaction to
commit. SQLite writers are serialised, so ids there are already in commit order."""

SEARCH_CANDIDATES = 300
"""Search ranks at most this many matching articles, the most recently archived ones: a word found in
half the archive is ranked among its newest 300 matches instead of reading every matching text."""

SEARCH_WINDOW = 5 * SEARCH_CANDIDATES
"""PostgreSQL: how many of the newest article ids are searched before the whole table (see `_candidates`)."""

_TS = UTCDateTime()

latest_articles = table(
    "latest_articles",
    column("article_id", Integer),
    column("source_id", String),
    column("url", Text),
    column("title", Text),
    column("text", Text),
    column("language", String),
    column("published_at", Date),
    column("version_no", Integer),
    column("first_seen_at", _TS),
    column("last_seen_at", _TS),
    column("removed_at", _TS),
    column("duplicate_of", Integer),
    column("cluster_id", Integer),
    column("updated_at", Date),
    column("authors", JSON),
    column("site_name", Text),
    column("language_confidence", Float),
    column("text_hash", String),
    column("reason", String),
    column("fetched_url", Text),
    column("captured_at", _TS),
    column("extractor_version", String),
    column("last_fetched_at", _TS),
)
article_history = table(
    "article_history",
    column("article_id", Integer),
    column("url", Text),
    column("version_no", Integer),
    column("reason", String),
    column("title", Text),
    column("text", Text),
    column("captured_at", _TS),
    column("chars_added", Integer),
    column("chars_removed", Integer),
    column("source_id", String),
    column("text_hash", String),
    column("language", String),
    column("published_at", Date),
    column("capture_id", Integer),
    column("extractor_version", String),
    column("created_at", _TS),
)
article_search = table(
    "article_search", column("article_id", Integer), column("title", Text), column("text", Text),
    column("cjk_bigrams", PG_ARRAY(Text)),  # PostgreSQL only (migration 0002)
)
articles = table(
    "articles",
    column("id", Integer),
    column("source_id", String),
    column("canonical_url", Text),
    column("removed_at", _TS),
    column("duplicate_of", Integer),
    column("cluster_id", Integer),
    column("latest_version_no", Integer),
    column("last_seen_at", _TS),
)
article_urls = table("article_urls", column("url", Text), column("article_id", Integer))
article_versions = table(
    "article_versions",
    column("id", Integer),
    column("article_id", Integer),
    column("version_no", Integer),
    column("title", Text),
    column("reason", String),
    column("captured_at", _TS),
    column("chars_added", Integer),
    column("chars_removed", Integer),
    column("language", String),
)
store_outcomes = table(
    "store_outcomes",
    column("id", BigInteger),
    column("capture_id", Integer),
    column("outcome", String),
    column("article_id", Integer),
    column("version_id", Integer),
    column("run_id", String),
    column("created_at", _TS),
)
captures = table("captures", column("id", Integer), column("fetched_at", _TS), column("url", Text))
sources = table("sources", column("id", String), column("name", Text))
fetch_errors = table("fetch_errors", column("source_id", String), column("reason", String), column("at", _TS))
runs = table(
    "runs",
    column("run_id", String),
    column("flow", String),
    column("started_at", _TS),
    column("finished_at", _TS),
    column("status", String),
    column("report", JSON),
)

FEED_EVENTS = ("new", "edited", "reextracted", "reappeared", "removed")
_VERSION_OUTCOMES = ("new", "duplicate", "edited", "reextracted", "reappeared")


# -- results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    article_id: int
    source_id: str
    url: str
    title: str
    text: str
    language: str
    published_at: date | None
    first_seen_at: datetime
    captured_at: datetime
    version_no: int
    removed_at: datetime | None
    duplicate_of: int | None
    cluster_id: int | None
    title_hits: int
    """How many query terms occur in the title."""
    occurrences: int
    """Occurrences of the query terms in title and text together."""


@dataclass(frozen=True)
class ArticleInfo:
    """One article: the `latest_articles` row (its contract columns and the useful extras)."""

    article_id: int
    source_id: str
    url: str
    title: str
    text: str
    language: str
    published_at: date | None
    version_no: int
    first_seen_at: datetime
    last_seen_at: datetime
    removed_at: datetime | None
    duplicate_of: int | None
    cluster_id: int | None
    authors: list[str]
    site_name: str | None
    fetched_url: str
    captured_at: datetime
    last_fetched_at: datetime | None
    extractor_version: str


@dataclass(frozen=True)
class VersionInfo:
    """One `article_history` row."""

    article_id: int
    url: str
    version_no: int
    reason: str
    title: str
    text: str
    captured_at: datetime
    chars_added: int
    chars_removed: int
    language: str
    published_at: date | None
    extractor_version: str


@dataclass(frozen=True)
class RelatedArticle:
    article_id: int
    url: str
    title: str
    source_id: str
    first_seen_at: datetime


@dataclass(frozen=True)
class Related:
    """Duplicates both ways and the near-duplicate cluster of one article."""

    duplicate_of: RelatedArticle | None
    duplicates: list[RelatedArticle]
    """Articles whose `duplicate_of` is this one."""
    cluster_id: int | None
    cluster: list[RelatedArticle]
    """Other members of the cluster, first seen first."""


@dataclass(frozen=True)
class ChangeEvent:
    cursor: str
    """Give this to `changes(after=...)` to continue after this event."""
    event: str
    """`new`, `edited`, `reextracted`, `reappeared` or `removed`."""
    at: datetime
    """When the fetch behind the event happened."""
    stored_at: datetime
    article_id: int
    source_id: str
    url: str
    version_no: int | None
    """The version made (None for removals)."""
    title: str
    chars_added: int | None
    chars_removed: int | None
    duplicate_of: int | None
    """For a `new` article that exactly duplicates an earlier one: that article."""


@dataclass(frozen=True)
class ChangePage:
    events: list[ChangeEvent]
    next_cursor: str | None
    """Where the next poll starts: past every settled row looked at (None: nothing stored yet)."""
    more: bool
    """True when `limit` cut the page short: poll again at once."""


@dataclass
class SourceStats:
    source_id: str
    name: str
    articles: int = 0
    versions: int = 0
    removed: int = 0
    duplicates: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    last_seen_at: datetime | None = None
    errors: int = 0
    errors_by_reason: dict[str, int] = field(default_factory=dict)
    last_error_at: datetime | None = None
    last_success_run_id: str | None = None
    last_success_at: datetime | None = None


@dataclass(frozen=True)
class ArchiveStats:
    sources: list[SourceStats]
    articles: int
    versions: int
    languages: dict[str, int]
    runs: int
    last_run_id: str | None
    last_run_status: str | None
    last_run_started_at: datetime | None
    last_success_run_id: str | None
    last_success_at: datetime | None


# -- cursors -------------------------------------------------------------------------------------------

_CURSOR = re.compile(r"^(?P<at>[^|]*)\|(?P<id>\d{1,18})$")


def format_cursor(stored_at: datetime | None, outcome_id: int) -> str:
    stamp = stored_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if stored_at else ""
    return f"{stamp}|{outcome_id}"


def parse_cursor(cursor: str) -> int:
    """The store-log position of a cursor; ValueError for anything that is not one."""
    match = _CURSOR.match(cursor.strip())
    if not match:
        raise ValueError(f"not a change-feed cursor: {cursor!r} (expected '<ISO time>|<number>')")
    return int(match["id"])


# -- the reader ----------------------------------------------------------------------------------------


class Reader:
    """Read-only queries over the archive. Hand it a read-only engine, or use `Reader.open(url)`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str | None = None) -> Reader:
        """Open the archive at `url` read-only; raises `SchemaNotReadyError` unless it exists at head."""
        engine = make_engine(url, readonly=True)
        try:
            ensure_schema(engine)
        except Exception:
            engine.dispose()
            raise
        logger.debug("reading archive %s", safe_url(engine.url))
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _connect(self) -> Connection:
        # `scipol_read`: a plain BEGIN on SQLite, never the writers' BEGIN IMMEDIATE.
        return self.engine.connect().execution_options(scipol_read=True)

    # -- search ------------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        language: str | None = None,
        source_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
        limit: int = 20,
        include_duplicates: bool = False,
    ) -> list[SearchHit]:
        """Latest versions containing every whitespace-separated term of `query` (any case), best first:
        more terms in the title, then more occurrences, then more recent (publication date, else first seen).

        `since`/`until` bound that date, both inclusive. Terms of three characters or more go through the
        trigram index; shorter ones (many Chinese words are two characters) through a LIKE scan. Only the
        `SEARCH_CANDIDATES` most recently archived matches are ranked.
        """
        terms = list(dict.fromkeys(t for t in query.split() if t))
        if not terms or limit <= 0:
            return []
        la, s = latest_articles.c, article_search.c
        with self._connect() as conn:
            dialect = conn.dialect.name
            conditions: list[ColumnElement[bool]] = []
            long_terms = [t for t in terms if len(t) >= 3]
            if dialect == "sqlite":
                join_on = la.article_id == literal_column("article_search.rowid")
                if long_terms:
                    # Each term as a quoted FTS5 phrase, quotes doubled: user input never becomes syntax.
                    phrase = " AND ".join('"' + t.replace('"', '""') + '"' for t in long_terms)
                    conditions.append(literal_column("article_search").op("MATCH")(phrase))
                for term in terms:
                    if len(term) < 3:
                        pattern = _like_pattern(term)
                        conditions.append(
                            or_(s.title.like(pattern, escape="\\"), s.text.like(pattern, escape="\\"))
                        )
            else:
                join_on = la.article_id == s.article_id
                for term in terms:
                    pattern = _like_pattern(term)
                    conditions.append(
                        or_(s.title.ilike(pattern, escape="\\"), s.text.ilike(pattern, escape="\\"))
                    )
                    if is_cjk_bigram(term):
                        # Two Han characters: the bigram index narrows, the ILIKE above decides.
                        conditions.append(s.cjk_bigrams.contains([term]))
            day = _article_day(dialect)
            conditions.extend(_filters(language=language, source_id=source_id))
            if since is not None:
                conditions.append(day >= _day_param(since, dialect))
            if until is not None:
                conditions.append(day <= _day_param(until, dialect))
            if not include_duplicates:
                conditions.append(la.duplicate_of.is_(None))
            # Ranking reads every candidate's text, so it is bounded: the newest matches (highest search
            # rowid, an index order both databases can walk backwards and stop early) are the candidates.
            newest = literal_column("article_search.rowid") if dialect == "sqlite" else s.article_id
            candidates_stmt = (
                select(la.article_id)
                .select_from(article_search.join(latest_articles, join_on))
                .where(*conditions)
                .order_by(newest.desc())
                .limit(max(limit, SEARCH_CANDIDATES))
            )
            ids = self._candidates(conn, candidates_stmt, max(limit, SEARCH_CANDIDATES))
            if not ids:
                return []
            title_hits = sum((case((_contains(la.title, t, dialect), 1), else_=0) for t in terms), literal(0))
            occurrences = sum((_count(la.title, t) + _count(la.text, t) for t in terms), literal(0))
            stmt = (
                select(
                    la.article_id,
                    la.source_id,
                    la.url,
                    la.title,
                    la.text,
                    la.language,
                    la.published_at,
                    la.first_seen_at,
                    la.captured_at,
                    la.version_no,
                    la.removed_at,
                    la.duplicate_of,
                    la.cluster_id,
                    title_hits.label("title_hits"),
                    occurrences.label("occurrences"),
                )
                .where(la.article_id.in_(ids))
                .order_by(
                    literal_column("title_hits").desc(),
                    literal_column("occurrences").desc(),
                    day.desc(),
                    la.first_seen_at.desc(),
                    la.article_id.desc(),
                )
                .limit(limit)
            )
            return [
                SearchHit(
                    **{
                        **row,
                        "title_hits": int(row["title_hits"] or 0),
                        "occurrences": int(row["occurrences"] or 0),
                    }
                )
                for row in conn.execute(stmt).mappings()
            ]

    @staticmethod
    def _candidates(conn: Connection, stmt: Select[Any], wanted: int) -> list[int]:
        """Ids of the newest matching articles.

        PostgreSQL finds matches through the trigram index and then re-checks every one of them against
        its text, which for a common word means most of the archive. Looking first among the newest
        `SEARCH_WINDOW` ids (a range on the primary key the planner combines with the trigram index)
        bounds that; only when the window holds too few matches is the whole table searched.
        """
        if conn.dialect.name == "postgresql":
            s = article_search.c
            top = conn.execute(select(func.max(s.article_id))).scalar()
            if top is not None and top > SEARCH_WINDOW:
                ids = list(conn.execute(stmt.where(s.article_id > top - SEARCH_WINDOW)).scalars())
                if len(ids) >= wanted:
                    return ids
        return list(conn.execute(stmt).scalars())

    # -- one article -------------------------------------------------------------------------------

    def resolve(self, *, article_id: int | None = None, urls: Sequence[str] = ()) -> int | None:
        """The id of the article with this id, or with any of these URLs (canonical first, then aliases)."""
        a, u = articles.c, article_urls.c
        with self._connect() as conn:
            if article_id is not None:
                return conn.execute(select(a.id).where(a.id == article_id)).scalar()
            for url in dict.fromkeys(urls):
                found = conn.execute(select(a.id).where(a.canonical_url == url)).scalar()
                if found is None:
                    found = conn.execute(select(u.article_id).where(u.url == url)).scalar()
                if found is not None:
                    return int(found)
        return None

    def article(self, article_id: int) -> ArticleInfo | None:
        la = latest_articles.c
        cols = [la[name] for name in ArticleInfo.__dataclass_fields__]
        with self._connect() as conn:
            row = conn.execute(select(*cols).where(la.article_id == article_id)).mappings().first()
        if row is None:
            return None
        return ArticleInfo(**{**row, "authors": _json_list(row["authors"])})

    def versions(self, article_id: int) -> list[VersionInfo]:
        """Every version of the article, oldest first."""
        h = article_history.c
        cols = [h[name] for name in VersionInfo.__dataclass_fields__]
        with self._connect() as conn:
            rows = conn.execute(
                select(*cols).where(h.article_id == article_id).order_by(h.version_no)
            ).mappings()
            return [VersionInfo(**row) for row in rows]

    def related(self, article_id: int) -> Related:
        la = latest_articles.c
        fields = (la.article_id, la.url, la.title, la.source_id, la.first_seen_at)
        order = (la.first_seen_at, la.article_id)
        with self._connect() as conn:
            me = conn.execute(
                select(la.duplicate_of, la.cluster_id).where(la.article_id == article_id)
            ).first()
            if me is None:
                return Related(None, [], None, [])
            original = None
            if me.duplicate_of is not None:
                found = (
                    conn.execute(select(*fields).where(la.article_id == me.duplicate_of)).mappings().first()
                )
                original = RelatedArticle(**found) if found else None
            dups = [
                RelatedArticle(**r)
                for r in conn.execute(
                    select(*fields).where(la.duplicate_of == article_id).order_by(*order)
                ).mappings()
            ]
            cluster: list[RelatedArticle] = []
            if me.cluster_id is not None:
                cluster = [
                    RelatedArticle(**r)
                    for r in conn.execute(
                        select(*fields)
                        .where(la.cluster_id == me.cluster_id, la.article_id != article_id)
                        .order_by(*order)
                    ).mappings()
                ]
            return Related(original, dups, me.cluster_id, cluster)

    # -- change feed -------------------------------------------------------------------------------

    def changes(
        self,
        *,
        after: int | None = None,
        since: datetime | None = None,
        limit: int = 100,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
        now: datetime | None = None,
    ) -> ChangePage:
        """Events stored after store-log position `after` (see `parse_cursor`), oldest first.

        Without `after`, the feed starts at the beginning, keeping only events whose fetch happened at
        or after `since`. Events are new articles (duplicates included, with `duplicate_of`), edits,
        re-extractions, reappearances and removals (a 404/410 while the article was present; repeated
        404s are one removal). Polling with each page's `next_cursor` yields every event exactly once.
        """
        o, v, a, c, la = store_outcomes.c, article_versions.c, articles.c, captures.c, latest_articles.c
        start = after if after is not None else 0
        with self._connect() as conn:
            horizon = self._settled_horizon(conn, start, settle_seconds, now)
            bound = [o.id > start] + ([o.id < horizon] if horizon is not None else [])
            prev = store_outcomes.alias("prev")
            # A 404 is a removal only when the article's previous state in the store log was a version.
            previous_state = (
                select(case((prev.c.version_id.is_not(None), 1), else_=0))
                .where(
                    prev.c.article_id == o.article_id,
                    prev.c.id < o.id,
                    or_(prev.c.version_id.is_not(None), prev.c.outcome == "removed"),
                )
                .order_by(prev.c.id.desc())
                .limit(1)
                .scalar_subquery()
            )
            is_event = or_(
                and_(o.version_id.is_not(None), o.outcome.in_(_VERSION_OUTCOMES)),
                and_(o.outcome == "removed", previous_state == 1),
            )
            conditions = [*bound, o.article_id.is_not(None), is_event]
            if since is not None and after is None:
                conditions.append(c.fetched_at >= since)
            stmt = (
                select(
                    o.id,
                    o.outcome,
                    o.created_at,
                    c.fetched_at,
                    o.article_id,
                    a.source_id,
                    a.canonical_url,
                    a.duplicate_of,
                    v.version_no,
                    v.title,
                    v.chars_added,
                    v.chars_removed,
                    la.title.label("latest_title"),
                )
                .select_from(
                    store_outcomes.join(captures, c.id == o.capture_id)
                    .join(articles, a.id == o.article_id)
                    .outerjoin(article_versions, v.id == o.version_id)
                    .outerjoin(latest_articles, la.article_id == o.article_id)
                )
                .where(*conditions)
                .order_by(o.id)
                .limit(limit + 1)
            )
            rows = conn.execute(stmt).all()
            more = len(rows) > limit
            rows = rows[:limit]
            events = [
                ChangeEvent(
                    cursor=format_cursor(r.created_at, r.id),
                    event="new" if r.outcome == "duplicate" else r.outcome,
                    at=r.fetched_at,
                    stored_at=r.created_at,
                    article_id=r.article_id,
                    source_id=r.source_id,
                    url=r.canonical_url,
                    version_no=r.version_no,
                    title=r.title if r.title is not None else (r.latest_title or ""),
                    chars_added=r.chars_added,
                    chars_removed=r.chars_removed,
                    duplicate_of=r.duplicate_of if r.outcome == "duplicate" else None,
                )
                for r in rows
            ]
            if more:
                next_cursor: str | None = events[-1].cursor
            else:
                # Nothing more to report up to the horizon: move past the rows that were not events, so
                # the next poll does not look at them again.
                last = conn.execute(
                    select(o.id, o.created_at).where(*bound).order_by(o.id.desc()).limit(1)
                ).first()
                if last is not None:
                    next_cursor = format_cursor(last.created_at, last.id)
                elif after is not None:
                    next_cursor = format_cursor(None, after)
                else:
                    next_cursor = None
            return ChangePage(events, next_cursor, more)

    @staticmethod
    def _settled_horizon(
        conn: Connection, start: int, settle_seconds: float, now: datetime | None
    ) -> int | None:
        """The first store-log id after `start` that may still have a lower id committing behind it."""
        if conn.dialect.name != "postgresql" or settle_seconds <= 0:
            return None
        o = store_outcomes.c
        cutoff = (now or datetime.now(UTC)) - timedelta(seconds=settle_seconds)
        found = conn.execute(select(func.min(o.id)).where(o.id > start, o.created_at > cutoff)).scalar()
        return int(found) if found is not None else None

    # -- export ------------------------------------------------------------------------------------

    def _export_query(
        self, *, all_versions: bool, since: datetime | None, source_id: str | None, language: str | None
    ) -> Select[Any]:
        if all_versions:
            h = article_history.c
            a = articles.c
            cols = [
                h.article_id,
                h.source_id,
                h.url,
                h.version_no,
                h.reason,
                h.title,
                h.text,
                h.language,
                h.published_at,
                h.captured_at,
                h.chars_added,
                h.chars_removed,
                h.text_hash,
                h.extractor_version,
                a.removed_at,
                a.duplicate_of,
                a.cluster_id,
            ]
            conditions = _filters(language=language, source_id=source_id, view=article_history)
            if since is not None:
                conditions.append(h.captured_at >= since)
            return (
                select(*cols)
                .select_from(article_history.join(articles, a.id == h.article_id))
                .where(*conditions)
                .order_by(h.article_id, h.version_no)
            )
        la = latest_articles.c
        cols = [
            la.article_id,
            la.source_id,
            la.url,
            la.title,
            la.text,
            la.language,
            la.published_at,
            la.version_no,
            la.first_seen_at,
            la.last_seen_at,
            la.removed_at,
            la.duplicate_of,
            la.cluster_id,
            la.captured_at,
            la.authors,
            la.site_name,
            la.text_hash,
        ]
        conditions = _filters(language=language, source_id=source_id)
        if since is not None:
            conditions.append(la.captured_at >= since)
        return select(*cols).where(*conditions).order_by(la.article_id)

    def export_count(
        self,
        *,
        all_versions: bool = False,
        since: datetime | None = None,
        source_id: str | None = None,
        language: str | None = None,
    ) -> int:
        inner = (
            self._export_query(all_versions=all_versions, since=since, source_id=source_id, language=language)
            .order_by(None)
            .subquery()
        )
        with self._connect() as conn:
            return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())

    def export_rows(
        self,
        *,
        all_versions: bool = False,
        since: datetime | None = None,
        source_id: str | None = None,
        language: str | None = None,
        chunk: int = EXPORT_CHUNK,
    ) -> Iterator[dict[str, Any]]:
        """Latest versions (or every version), one dict per row, streamed: a server-side cursor on
        PostgreSQL, `chunk` rows in memory at a time. `since` bounds the fetch time of the version."""
        stmt = self._export_query(
            all_versions=all_versions, since=since, source_id=source_id, language=language
        )
        with self._connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk).execute(stmt)
            for row in result.mappings():
                out = dict(row)
                if "authors" in out:
                    out["authors"] = _json_list(out["authors"])
                yield out

    # -- statistics --------------------------------------------------------------------------------

    def stats(self, *, max_runs: int = 2000) -> ArchiveStats:
        """Per source: articles, versions, removals, duplicates, languages, errors, last successful run.

        The last successful run of a source is read from the run reports, newest first, looking at no
        more than `max_runs` of them.
        """
        a, la, v, e, r, src = (
            articles.c,
            latest_articles.c,
            article_versions.c,
            fetch_errors.c,
            runs.c,
            sources.c,
        )
        with self._connect() as conn:
            by_source: dict[str, SourceStats] = {
                row.id: SourceStats(row.id, row.name)
                for row in conn.execute(select(src.id, src.name).order_by(src.id))
            }

            def get(source_id: str) -> SourceStats:
                return by_source.setdefault(source_id, SourceStats(source_id, source_id))

            for row in conn.execute(
                select(
                    a.source_id,
                    func.count(),
                    func.count(a.removed_at),
                    func.count(a.duplicate_of),
                    func.max(a.last_seen_at),
                ).group_by(a.source_id)
            ):
                st = get(row[0])
                st.articles, st.removed, st.duplicates, st.last_seen_at = (
                    int(row[1]),
                    int(row[2]),
                    int(row[3]),
                    row[4],
                )
            for source_id, n in conn.execute(
                select(a.source_id, func.count())
                .select_from(article_versions.join(articles, a.id == v.article_id))
                .group_by(a.source_id)
            ):
                get(source_id).versions = int(n)
            languages: dict[str, int] = {}
            for source_id, lang, n in conn.execute(
                select(la.source_id, la.language, func.count())
                .group_by(la.source_id, la.language)
                .order_by(la.source_id, func.count().desc(), la.language)
            ):
                get(source_id).languages[lang] = int(n)
                languages[lang] = languages.get(lang, 0) + int(n)
            for source_id, reason, n, last in conn.execute(
                select(e.source_id, e.reason, func.count(), func.max(e.at)).group_by(e.source_id, e.reason)
            ):
                st = get(source_id)
                st.errors += int(n)
                st.errors_by_reason[reason] = int(n)
                if last is not None and (st.last_error_at is None or last > st.last_error_at):
                    st.last_error_at = last
            n_runs = int(conn.execute(select(func.count()).select_from(runs)).scalar_one())
            last_run = conn.execute(
                select(r.run_id, r.status, r.started_at)
                .order_by(r.started_at.desc(), r.run_id.desc())
                .limit(1)
            ).first()
            last_ok = conn.execute(
                select(r.run_id, r.finished_at)
                .where(r.status == "completed")
                .order_by(r.started_at.desc(), r.run_id.desc())
                .limit(1)
            ).first()
            pending = set(by_source)
            result = conn.execution_options(yield_per=100).execute(
                select(r.run_id, r.finished_at, r.started_at, r.report)
                .where(r.status == "completed")
                .order_by(r.started_at.desc(), r.run_id.desc())
                .limit(max_runs)
            )
            for run_id, finished_at, started_at, report in result:
                if not pending:
                    break
                data = json.loads(report) if isinstance(report, str) else (report or {})
                for entry in data.get("sources", []):
                    sid = entry.get("source_id")
                    if sid in pending and entry.get("status", "ok") == "ok":
                        st = by_source[sid]
                        st.last_success_run_id, st.last_success_at = run_id, finished_at or started_at
                        pending.discard(sid)
            result.close()
        stats = sorted(by_source.values(), key=lambda s: s.source_id)
        return ArchiveStats(
            sources=stats,
            articles=sum(s.articles for s in stats),
            versions=sum(s.versions for s in stats),
            languages=dict(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))),
            runs=n_runs,
            last_run_id=last_run.run_id if last_run else None,
            last_run_status=last_run.status if last_run else None,
            last_run_started_at=last_run.started_at if last_run else None,
            last_success_run_id=last_ok.run_id if last_ok else None,
            last_success_at=last_ok.finished_at if last_ok else None,
        )


# -- helpers -------------------------------------------------------------------------------------------


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filters(*, language: str | None, source_id: str | None, view: Any = latest_articles) -> list[Any]:
    out = []
    if language:
        out.append(view.c.language == language)
    if source_id:
        out.append(view.c.source_id == source_id)
    return out


def _article_day(dialect: str) -> Any:
    """The day an article belongs to: its publication date, else the day it was first seen (UTC)."""
    la = latest_articles.c
    if dialect == "sqlite":
        # Both stored as text starting with YYYY-MM-DD, which compares correctly as text.
        return func.coalesce(
            literal_column("latest_articles.published_at", Text),
            func.substr(literal_column("latest_articles.first_seen_at", Text), 1, 10),
        )
    return func.coalesce(la.published_at, func.date(func.timezone("UTC", la.first_seen_at)))


def _day_param(day: date, dialect: str) -> Any:
    return literal(day.isoformat(), Text) if dialect == "sqlite" else literal(day, Date)


def _contains(expr: Any, term: str, dialect: str) -> Any:
    needle = literal(term.lower(), Text)
    return (
        func.instr(func.lower(expr), needle) if dialect == "sqlite" else func.strpos(func.lower(expr), needle)
    ) > 0


def _count(expr: Any, term: str) -> Any:
    """Occurrences of `term` in `expr`, any case: the length lost by deleting it, over its length."""
    lowered = func.lower(func.coalesce(expr, ""))
    removed = func.length(lowered) - func.length(func.replace(lowered, literal(term.lower(), Text), ""))
    return removed / len(term)


def _json_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    return [str(x) for x in value] if isinstance(value, list) else [str(value)]
