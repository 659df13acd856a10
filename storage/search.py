"""Full-text search over the latest version of each article, in Chinese and English alike.

Word tokenizers fail on Chinese (no spaces), so both databases index character trigrams:
SQLite an FTS5 table with the `trigram` tokenizer, PostgreSQL a plain table with `pg_trgm` GIN
indexes. The table holds one row per article (its latest title and text) and is written in the same
transaction as the version, so it never lags. Terms shorter than three characters (many Chinese
words are two) cannot use a trigram index: they are matched by a LIKE scan instead, still correct.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

SEARCH_TABLE = "article_search"

# Frozen DDL for the migration that created the table; a change needs a new constant and migration.
SEARCH_DDL_V1: dict[str, list[str]] = {
    "sqlite": [
        "CREATE VIRTUAL TABLE article_search USING fts5("
        "article_id UNINDEXED, title, text, tokenize = 'trigram')",
    ],
    "postgresql": [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        "CREATE TABLE article_search ("
        "article_id BIGINT NOT NULL CONSTRAINT pk_article_search PRIMARY KEY "
        "CONSTRAINT fk_article_search_article_id_articles REFERENCES articles (id), "
        "title TEXT NOT NULL, text TEXT NOT NULL)",
        "CREATE INDEX ix_article_search_title_trgm ON article_search USING gin (title gin_trgm_ops)",
        "CREATE INDEX ix_article_search_text_trgm ON article_search USING gin (text gin_trgm_ops)",
    ],
}
DROP_SEARCH_DDL_V1 = ["DROP TABLE IF EXISTS article_search"]

# Migration 0002, PostgreSQL only: most Chinese words are two characters, which a trigram index cannot
# find (a LIKE '%科技%' scans every row). The distinct Han bigrams of each article, in a GIN-indexed
# array, turn such a term into an index lookup; the ILIKE still decides. SQLite's FTS5 table is left as is.
SEARCH_DDL_V2_POSTGRESQL = [
    "ALTER TABLE article_search ADD COLUMN cjk_bigrams TEXT[] NOT NULL DEFAULT '{}'",
    "CREATE INDEX ix_article_search_cjk_bigrams ON article_search USING gin (cjk_bigrams)",
]
DROP_SEARCH_DDL_V2_POSTGRESQL = [
    "DROP INDEX IF EXISTS ix_article_search_cjk_bigrams",
    "ALTER TABLE article_search DROP COLUMN IF EXISTS cjk_bigrams",
]

_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def cjk_bigrams(*texts: str) -> list[str]:
    """The distinct pairs of adjacent Han characters in `texts`, sorted (stable rows, stable tests)."""
    pairs: set[str] = set()
    for value in texts:
        for run in _HAN_RUN.findall(value):
            pairs.update(run[i:i + 2] for i in range(len(run) - 1))
    return sorted(pairs)


def is_cjk_bigram(term: str) -> bool:
    """A two-character Han term: what the bigram index answers."""
    return len(term) == 2 and _HAN_RUN.fullmatch(term) is not None


def is_search_table(name: str) -> bool:
    """The search table and, on SQLite, the FTS5 shadow tables behind it."""
    return name == SEARCH_TABLE or name.startswith(SEARCH_TABLE + "_")


_SQLITE_DELETE = text("DELETE FROM article_search WHERE rowid = :id")
_SQLITE_INSERT = text("INSERT INTO article_search (rowid, article_id, title, text) VALUES (:id, :id, :title, :text)")
# A transaction's search rows in one statement (storage/bulk.py says why): one array per column. Each row's
# bigrams travel as one space-separated string (a bigram is two Han characters, never a space), since
# an array of arrays must be rectangular; string_to_array('', ' ') is the empty array.
_PG_UPSERT_MANY = ("INSERT INTO article_search (article_id, title, text, cjk_bigrams) "
                   "SELECT r.id, r.title, r.text, string_to_array(r.bigrams, ' ') "
                   "FROM unnest(CAST(%(ids)s AS BIGINT[]), CAST(%(titles)s AS TEXT[]), CAST(%(texts)s AS TEXT[]), "
                   "CAST(%(bigrams)s AS TEXT[])) AS r(id, title, text, bigrams) "
                   "ON CONFLICT (article_id) DO UPDATE SET title = excluded.title, text = excluded.text, "
                   "cjk_bigrams = excluded.cjk_bigrams")


def index_article(conn: Connection, article_id: int, title: str, body: str, *, first: bool = False) -> None:
    """Make the search row of `article_id` hold this title and text (call inside the version's transaction).

    `first`: the article's first version, so it has no row yet (one statement fewer per new article).
    """
    pending = PendingSearchRows()
    pending.add(article_id, title, body, first=first)
    pending.flush(conn)


class PendingSearchRows:
    """The search rows of one write transaction, written together just before it commits.

    SQLite's FTS5 keeps what it indexes in memory and writes it out at every statement savepoint of
    the transaction, which any later INSERT with a conflict clause opens: one search row per stored
    article turned every following statement into an index flush (1.9 ms of the ~5 ms storing a new
    article took, bench/store.py). One multi-row insert per chunk flushes once. Nothing reads the
    search table inside a write transaction, so the rows need not be there earlier. The last text
    added for an article wins, as the last of several `index_article` calls would.
    """

    def __init__(self) -> None:
        self._rows: dict[int, tuple[str, str]] = {}
        self._replaced: set[int] = set()

    def add(self, article_id: int, title: str, body: str, *, first: bool = False) -> None:
        """`first`: the article has no row in the table yet (its first version)."""
        if not first and article_id not in self._rows:
            self._replaced.add(article_id)  # a row written by an earlier transaction: deleted first
        self._rows[article_id] = (title, body)

    def flush(self, conn: Connection) -> None:
        if not self._rows:
            return
        if conn.dialect.name == "sqlite":
            if self._replaced:
                conn.execute(_SQLITE_DELETE, [{"id": i} for i in sorted(self._replaced)])
            conn.execute(_SQLITE_INSERT, [{"id": i, "title": title, "text": body}
                                          for i, (title, body) in self._rows.items()])
        else:
            rows = self._rows.items()
            conn.exec_driver_sql(_PG_UPSERT_MANY, {
                "ids": [i for i, _ in rows], "titles": [title for _, (title, _) in rows],
                "texts": [body for _, (_, body) in rows],
                "bigrams": [" ".join(cjk_bigrams(title, body)) for _, (title, body) in rows]})
        self._rows.clear()
        self._replaced.clear()


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_article_ids(conn: Connection, query: str, limit: int) -> list[int]:
    """Ids of articles whose latest title or text contains every whitespace-separated term, best first."""
    terms = [t for t in query.split() if t]
    if not terms or limit <= 0:
        return []
    params: dict[str, object] = {"limit": limit, "q": query}
    likes: list[str] = []
    if conn.dialect.name == "sqlite":
        long_terms = [t for t in terms if len(t) >= 3]
        for i, term in enumerate(t for t in terms if len(t) < 3):
            params[f"p{i}"] = _like_pattern(term)
            likes.append(f"(title LIKE :p{i} ESCAPE '\\' OR text LIKE :p{i} ESCAPE '\\')")
        where = list(likes)
        if long_terms:
            # Each term as an FTS5 phrase: quotes doubled, so user input is never query syntax.
            params["match"] = " AND ".join('"' + t.replace('"', '""') + '"' for t in long_terms)
            where.insert(0, "article_search MATCH :match")
            order = "rank"
        else:
            order = "rowid DESC"
        sql = f"SELECT article_id FROM article_search WHERE {' AND '.join(where)} ORDER BY {order} LIMIT :limit"
    else:
        for i, term in enumerate(terms):
            params[f"p{i}"] = _like_pattern(term)
            likes.append(f"(title ILIKE :p{i} OR text ILIKE :p{i})")
            if is_cjk_bigram(term):
                params[f"b{i}"] = [term]
                likes.append(f"cjk_bigrams @> CAST(:b{i} AS TEXT[])")
        sql = (f"SELECT article_id FROM article_search WHERE {' AND '.join(likes)} "
               "ORDER BY similarity(title, :q) DESC, article_id DESC LIMIT :limit")
    return [int(row[0]) for row in conn.execute(text(sql), params)]
