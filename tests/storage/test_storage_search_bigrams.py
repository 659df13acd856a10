"""PostgreSQL finds two-character Chinese words through the Han-bigram index (migration 0002)."""

from __future__ import annotations

import sqlalchemy as sa

from storage.reading import Reader
from storage.search import cjk_bigrams, is_cjk_bigram
from tests.support.access_archive import KEJI_URL, fill


def test_bigrams_are_the_distinct_adjacent_han_pairs() -> None:
    assert cjk_bigrams("科技部 AI 科技", "國家") == ["國家", "技部", "科技"]
    assert is_cjk_bigram("科技") and not is_cjk_bigram("科") and not is_cjk_bigram("AI")


def test_postgresql_search_rows_carry_bigrams_and_a_two_character_word_is_found(pg_url: str) -> None:
    fill(pg_url)
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("select count(*) from article_search where cjk_bigrams @> ARRAY['科技']")
                              ).scalar_one()
        index = conn.execute(sa.text(
            "select count(*) from pg_indexes where indexname = 'ix_article_search_cjk_bigrams'")).scalar_one()
    engine.dispose()
    assert stored >= 1 and index == 1
    hits = Reader.open(pg_url).search("科技")
    assert KEJI_URL in {h.url for h in hits}
    assert Reader.open(pg_url).search("鲲鹏") == []
