"""The views downstream code reads. Column names are a public contract (see docs/schema.md).

`latest_articles`: one row per article, its latest version. `article_history`: every version.
`article_timeline`: every version with the interval it was current (`valid_from`, `valid_to`), which
gives the archive as of any time T:

    SELECT * FROM article_timeline
    WHERE valid_from <= :t AND (valid_to IS NULL OR valid_to > :t)

(`Archive.as_of(t)` runs exactly this). On SQLite timestamps are UTC text `YYYY-MM-DD HH:MM:SS.ffffff`,
so pass T in that form; on PostgreSQL they are `timestamptz`.
"""

from __future__ import annotations

# Frozen DDL of the first migration. A change to a view gets a new constant and a new migration,
# so old migrations keep producing what they produced.
VIEWS_V1: dict[str, str] = {
    "latest_articles": """
CREATE VIEW latest_articles AS
SELECT a.id AS article_id, a.source_id, a.canonical_url AS url, v.title, v.text, v.language,
       v.published_at, v.version_no, a.first_seen_at, a.last_seen_at, a.removed_at, a.duplicate_of,
       a.cluster_id, v.updated_at, v.authors, v.site_name, v.language_confidence, v.text_hash,
       v.reason, v.url AS fetched_url, v.captured_at, v.extractor_version, a.last_fetched_at
FROM articles a
JOIN article_versions v ON v.article_id = a.id AND v.version_no = a.latest_version_no
""",
    "article_history": """
CREATE VIEW article_history AS
SELECT v.article_id, a.canonical_url AS url, v.version_no, v.reason, v.title, v.text,
       v.captured_at, v.chars_added, v.chars_removed, a.source_id, v.text_hash, v.language,
       v.published_at, v.capture_id, v.extractor_version, v.created_at
FROM article_versions v
JOIN articles a ON a.id = v.article_id
""",
    "article_timeline": """
CREATE VIEW article_timeline AS
SELECT v.article_id, a.source_id, a.canonical_url AS url, v.version_no, v.reason, v.title, v.text,
       v.language, v.published_at, v.captured_at AS valid_from,
       LEAD(v.captured_at) OVER (PARTITION BY v.article_id ORDER BY v.version_no) AS valid_to,
       a.removed_at, a.duplicate_of, a.cluster_id
FROM article_versions v
JOIN articles a ON a.id = v.article_id
""",
}


def create_views_v1() -> list[str]:
    return [ddl.strip() for ddl in VIEWS_V1.values()]


def drop_views_v1() -> list[str]:
    return [f"DROP VIEW IF EXISTS {name}" for name in reversed(VIEWS_V1)]
