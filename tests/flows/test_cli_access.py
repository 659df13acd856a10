"""Downstream access through the CLI (search, show, diff, changes, export, stats) on a real archive,
SQLite and PostgreSQL, filled through the real write API."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flows.cli import cli
from storage import Archive
from tests.support import access_archive as data
from tests.support.access_archive import Ids
from tests.support.postgres import PostgresServer


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Ids]:
    """One archive per backend shared by the read-only tests of this module."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('access')}/archive.db"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database()
    return url, data.fill(url)


@pytest.fixture(autouse=True)
def _restore_database_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # `--db` sets SCIPOL_DATABASE_URL for the process (commands/common.py); undo it after each test.
    monkeypatch.setenv("SCIPOL_DATABASE_URL", "sqlite:////nonexistent/never-used.db")
    yield


def run(url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, [*args, "--db", url], catch_exceptions=False)
    return result


def ok(url: str, *args: str) -> str:
    result = run(url, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def one_error_line(result: Result) -> str:
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scipol: error: "), result.stderr
    return lines[0]


# -- search ----------------------------------------------------------------------------------------


def test_search_finds_a_two_character_chinese_word_and_marks_it(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    out = ok(url, "search", "科技")
    assert "[科技]部关于国家重点研发计划申报的通知" in out
    assert "加强[科技]创新" in out
    assert data.KEJI_URL in out
    assert data.KEJI_COPY_URL not in out  # the exact duplicate is left out by default
    hits = jsonl(ok(url, "search", "科技", "--with-duplicates", "--json"))
    assert {h["article_id"] for h in hits} == {ids.keji, ids.keji_copy}


def test_search_finds_a_longer_chinese_word_through_the_trigram_index(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    hits = jsonl(ok(url, "search", "人工智能", "--json"))
    assert [h["article_id"] for h in hits] == [ids.ai_zh]
    assert hits[0]["occurrences"] == 3  # twice in the text, once in the title
    assert "[人工智能]" in str(hits[0]["snippet"])


def test_search_finds_an_english_word_in_any_case_and_shows_title_source_date_url(
    filled: tuple[str, Ids],
) -> None:
    url, ids = filled
    out = ok(url, "search", "QUANTUM")
    assert "NSF extends [quantum] computing funding" in out
    assert f"#{ids.quantum}  nsf_news  2026-03-01  en  v3  {data.QUANTUM_URL}" in out
    assert "new [quantum] computing programme" in out


def test_search_ranks_title_hits_before_text_hits(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    hits = jsonl(ok(url, "search", "research", "--json"))
    # Polar call and AI guidance have "research" in the title; the quantum article only in its text.
    assert [h["article_id"] for h in hits][-1] == ids.quantum
    assert {h["article_id"] for h in hits[:2]} == {ids.old_call, ids.ai}
    assert all(h["title_hits"] == 1 for h in hits[:2]) and hits[2]["title_hits"] == 0


def test_search_needs_every_term(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    assert [h["article_id"] for h in jsonl(ok(url, "search", "research polar", "--json"))] == [ids.old_call]
    assert jsonl(ok(url, "search", "research 科技", "--json")) == []


def test_search_filters_by_language_source_and_publication_day(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    assert jsonl(ok(url, "search", "research", "--lang", "zh", "--json")) == []
    assert jsonl(ok(url, "search", "research", "--source", data.ZH, "--json")) == []
    early = jsonl(ok(url, "search", "research", "--until", "2026-02-28", "--json"))
    assert [h["article_id"] for h in early] == [ids.ai]  # published 2026-02-20
    late = jsonl(ok(url, "search", "research", "--since", "2026-03-01", "--json"))
    assert {h["article_id"] for h in late} == {ids.quantum, ids.old_call}


def test_search_treats_like_wildcards_as_plain_characters(filled: tuple[str, Ids]) -> None:
    url, _ = filled
    assert jsonl(ok(url, "search", "%", "--json")) == []
    assert jsonl(ok(url, "search", "_", "--json")) == []


def test_search_rejects_a_bad_date_with_one_line(filled: tuple[str, Ids]) -> None:
    url, _ = filled
    line = one_error_line(run(url, "search", "research", "--since", "2026-02-30"))
    assert "--since" in line and "2026-02-30" in line


# -- show ------------------------------------------------------------------------------------------


def test_show_by_id_lists_versions_with_their_reasons(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    out = ok(url, "show", str(ids.quantum))
    assert "NSF extends quantum computing funding" in out
    assert "versions (3)" in out
    assert "v1  2026-03-01 08:00 UTC  new" in out
    assert "v2  2026-03-02 08:00 UTC  edited" in out
    assert "v3  2026-03-03 08:00 UTC  edited" in out
    assert "thirty research teams" in out


def test_show_by_a_url_variant_finds_the_canonical_article(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    variant = "https://NSF.example:443/news/quantum-funding?utm_source=rss#top"
    shown = json.loads(ok(url, "show", variant, "--json"))
    assert shown["article_id"] == ids.quantum
    assert [v["version_no"] for v in shown["versions"]] == [1, 2, 3]
    assert [v["reason"] for v in shown["versions"]] == ["new", "edited", "edited"]
    assert "text" not in shown["versions"][0]
    with_text = json.loads(ok(url, "show", data.QUANTUM_URL, "--json", "--versions"))
    assert with_text["versions"][0]["text"] == data.QUANTUM_V1


def test_show_gives_duplicates_in_both_directions(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    original = json.loads(ok(url, "show", str(ids.keji), "--json"))
    copy = json.loads(ok(url, "show", str(ids.keji_copy), "--json"))
    assert [d["article_id"] for d in original["duplicates"]] == [ids.keji_copy]
    assert original["duplicate_of"] is None
    assert copy["duplicate_of"]["article_id"] == ids.keji
    assert copy["cluster"]["id"] is not None and copy["cluster"]["id"] == original["cluster"]["id"]
    assert [m["article_id"] for m in original["cluster"]["members"]] == [ids.keji_copy]
    text = ok(url, "show", str(ids.keji_copy))
    assert f"duplicate of  #{ids.keji}" in text


def test_show_marks_a_removed_article_and_converts_times_to_a_zone(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    out = ok(url, "show", str(ids.old_call), "--tz", "Asia/Shanghai")
    assert "removed since 2026-03-02 17:00 CST" in out  # 09:00 UTC
    shown = json.loads(ok(url, "show", str(ids.old_call), "--json", "--tz", "Asia/Shanghai"))
    assert shown["removed_at"] == "2026-03-02T17:00:00+08:00"


@pytest.mark.parametrize("ref", ["999999", "https://nsf.example/news/never-seen"])
def test_show_of_an_unknown_article_is_one_error_line(filled: tuple[str, Ids], ref: str) -> None:
    url, _ = filled
    assert "no article" in one_error_line(run(url, "show", ref))


def test_an_unknown_time_zone_is_one_error_line(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    assert "time zone" in one_error_line(run(url, "show", str(ids.quantum), "--tz", "Mars/Olympus"))


# -- diff ------------------------------------------------------------------------------------------


def test_diff_defaults_to_the_last_two_versions_word_by_word(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    out = ok(url, "diff", str(ids.quantum))
    assert "v2 (edited" in out and "-> v3 (edited" in out
    assert "title: NSF [-announces-]{+extends+} quantum computing funding" in out
    assert "The programme funds [-twenty-]{+thirty+} research teams{+ across the country+}." in out
    assert "\x1b[" not in out  # no colours when not on a terminal


def test_diff_between_chosen_versions_and_as_json(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    out = ok(url, "diff", data.QUANTUM_URL, "--from", "1", "--to", "2")
    assert "due on [-30 April-]{+15 May+} 2026." in out
    result = json.loads(ok(url, "diff", str(ids.quantum), "--from", "1", "--to", "3", "--json"))
    changes = [(op["old"], op["new"]) for op in result["ops"] if op["op"] != "equal"]
    assert changes == [("30 April", "15 May"), ("twenty", "thirty"), ("", " across the country")]
    old = "".join(op["old"] for op in result["ops"])
    new = "".join(op["new"] for op in result["ops"])
    assert (old, new) == (data.QUANTUM_V1, data.QUANTUM_V3)  # the ops rebuild both texts exactly


def test_diff_of_chinese_is_character_level(db_url: str) -> None:
    ids = data.fill(db_url)
    edited = data.AI_ZH_TEXT.replace("人才培养", "人才队伍培养").replace("2030年", "2035年")
    with Archive.open(db_url) as archive:
        assert archive.store(
            [
                data.page(
                    data.ZH,
                    data.AI_ZH_URL,
                    "新一代人工智能发展规划",
                    edited,
                    data.at(72),
                    language="zh",
                    published=date(2026, 1, 5),
                )
            ]
        ) == ["edited"]
    out = ok(db_url, "diff", str(ids.ai_zh))
    assert "提出到[-2030-]{+2035+}年" in out
    assert "人才{+队伍+}培养" in out


def test_diff_errors_are_one_line(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    assert "only one version" in one_error_line(run(url, "diff", str(ids.ai)))
    assert "no version 7" in one_error_line(run(url, "diff", str(ids.quantum), "--to", "7"))


# -- changes ---------------------------------------------------------------------------------------

EXPECTED_FEED = [
    ("new", "quantum"),
    ("new", "ai"),
    ("new", "old_call"),
    ("new", "keji"),
    ("new", "keji_copy"),
    ("new", "ai_zh"),
    ("edited", "quantum"),
    ("removed", "old_call"),
    ("edited", "quantum"),
]


def feed(url: str, *args: str) -> tuple[list[dict[str, object]], str]:
    result = run(url, "changes", "--format", "jsonl", "--settle", "0", *args)
    assert result.exit_code == 0, result.output
    cursor_lines = [line for line in result.stderr.splitlines() if line.startswith("next cursor: ")]
    assert len(cursor_lines) == 1, result.stderr
    return jsonl(result.stdout), cursor_lines[0].removeprefix("next cursor: ").split("  ")[0]


def test_changes_lists_new_edited_removed_in_order_with_one_removal_for_two_404s(
    filled: tuple[str, Ids],
) -> None:
    url, ids = filled
    events, _ = feed(url, "--since", "2026-03-01")
    by_id = {getattr(ids, name): name for name in ("quantum", "ai", "old_call", "keji", "keji_copy", "ai_zh")}
    assert [(e["event"], by_id[e["article_id"]]) for e in events] == EXPECTED_FEED  # type: ignore[index]
    copy = next(e for e in events if e["article_id"] == ids.keji_copy)
    assert copy["duplicate_of"] == ids.keji
    removal = next(e for e in events if e["event"] == "removed")
    assert removal["at"] == "2026-03-02T09:00:00+00:00" and removal["version_no"] is None


def test_changes_since_a_time_leaves_out_earlier_fetches(filled: tuple[str, Ids]) -> None:
    url, _ = filled
    events, _ = feed(url, "--since", "2026-03-02T00:00:00Z")
    assert [e["event"] for e in events] == ["edited", "removed", "edited"]


def test_changes_paged_by_cursor_never_repeat_or_skip(filled: tuple[str, Ids]) -> None:
    url, _ = filled
    everything, _ = feed(url, "--since", "2026-03-01")
    seen: list[dict[str, object]] = []
    page, cursor = feed(url, "--since", "2026-03-01", "--limit", "2")
    seen += page
    for _ in range(10):
        page, cursor = feed(url, "--cursor", cursor, "--limit", "2")
        if not page:
            break
        seen += page
    assert seen == everything
    again, same = feed(url, "--cursor", cursor)
    assert again == [] and same == cursor  # polling an idle archive moves nothing


def test_changes_with_a_cursor_return_only_newer_events_even_for_old_fetches(db_url: str) -> None:
    ids = data.fill(db_url, with_later=False)
    first, cursor = feed(db_url, "--since", "2026-03-01")
    assert [e["event"] for e in first] == ["new"] * 6
    with Archive.open(db_url) as archive:
        data.add_later(archive)
        # Stored now but fetched before everything above (a late batch): still a newer event.
        late = data.AI_TEXT + " Updated."
        archive.store(
            [
                data.page(
                    data.EN,
                    data.AI_URL,
                    "Guidance on artificial intelligence in research",
                    late,
                    data.at(0.5),
                    language="en",
                )
            ]
        )
    second, cursor2 = feed(db_url, "--cursor", cursor)
    assert [(e["event"], e["article_id"]) for e in second] == [
        ("edited", ids.quantum),
        ("removed", ids.old_call),
        ("edited", ids.quantum),
        ("edited", ids.ai),
    ]
    assert second[-1]["at"] == "2026-03-01T08:30:00+00:00"
    assert not {e["cursor"] for e in first} & {e["cursor"] for e in second}
    assert feed(db_url, "--cursor", cursor2)[0] == []


def test_changes_cursor_file_is_read_and_advanced(filled: tuple[str, Ids], tmp_path: Path) -> None:
    url, _ = filled
    cursor_file = tmp_path / "feed.cursor"
    first, cursor = feed(url, "--since", "2026-03-01", "--limit", "4", "--cursor-file", str(cursor_file))
    assert cursor_file.read_text().strip() == cursor
    rest, _ = feed(url, "--since", "2026-03-01", "--cursor-file", str(cursor_file))
    assert len(first) == 4 and len(rest) == len(EXPECTED_FEED) - 4


def test_changes_table_and_errors(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    result = run(url, "changes", "--since", "2026-03-02", "--settle", "0")
    assert result.exit_code == 0
    assert f"2026-03-02 09:00 UTC  removed     #{ids.old_call}" in result.stdout
    assert "next cursor: " in result.stderr
    assert "--since" in one_error_line(run(url, "changes"))
    assert "cursor" in one_error_line(run(url, "changes", "--cursor", "yesterday"))
    assert "invalid date" in one_error_line(run(url, "changes", "--since", "last week"))


# -- export ----------------------------------------------------------------------------------------


def test_export_jsonl_and_csv_rows_match_the_latest_versions(filled: tuple[str, Ids]) -> None:
    url, ids = filled
    rows = jsonl(ok(url, "export", "--format", "jsonl"))
    assert [r["article_id"] for r in rows] == sorted(vars(ids).values())
    quantum = next(r for r in rows if r["article_id"] == ids.quantum)
    assert (quantum["version_no"], quantum["title"], quantum["text"]) == (
        3,
        "NSF extends quantum computing funding",
        data.QUANTUM_V3,
    )
    assert quantum["first_seen_at"] == "2026-03-01T08:00:00+00:00" and quantum["published_at"] == "2026-03-01"
    contract = [
        "article_id",
        "source_id",
        "url",
        "title",
        "text",
        "language",
        "published_at",
        "version_no",
        "first_seen_at",
        "last_seen_at",
        "removed_at",
        "duplicate_of",
        "cluster_id",
    ]
    assert list(quantum)[:13] == contract
    table = list(csv.DictReader(io.StringIO(ok(url, "export", "--format", "csv"))))
    assert [int(r["article_id"]) for r in table] == [r["article_id"] for r in rows]
    for row, line in zip(rows, table, strict=True):
        assert line["text"] == row["text"] and line["title"] == row["title"] and line["url"] == row["url"]
        assert line["removed_at"] == (row["removed_at"] or "")


def test_export_all_versions_with_filters_to_a_file(filled: tuple[str, Ids], tmp_path: Path) -> None:
    url, ids = filled
    target = tmp_path / "out.jsonl"
    result = run(url, "export", "--format", "jsonl", "--all-versions", "--source", data.EN, "-o", str(target))
    assert result.exit_code == 0 and "exported 5 row(s)" in result.stderr
    rows = jsonl(target.read_text(encoding="utf-8"))
    assert [(r["article_id"], r["version_no"]) for r in rows] == [
        (ids.quantum, 1),
        (ids.quantum, 2),
        (ids.quantum, 3),
        (ids.ai, 1),
        (ids.old_call, 1),
    ]
    assert [r["reason"] for r in rows][:3] == ["new", "edited", "edited"]
    zh = jsonl(ok(url, "export", "--format", "jsonl", "--lang", "zh"))
    assert {r["article_id"] for r in zh} == {ids.keji, ids.keji_copy, ids.ai_zh}
    recent = jsonl(ok(url, "export", "--format", "jsonl", "--all-versions", "--since", "2026-03-02"))
    assert [(r["article_id"], r["version_no"]) for r in recent] == [(ids.quantum, 2), (ids.quantum, 3)]
    assert not list(tmp_path.glob("*.partial"))


def test_export_parquet_without_pyarrow_says_how_to_install_it(
    filled: tuple[str, Ids], tmp_path: Path
) -> None:
    url, _ = filled
    result = run(url, "export", "--format", "parquet", "-o", str(tmp_path / "a.parquet"))
    if importlib.util.find_spec("pyarrow") is None:
        assert "pip install pyarrow" in one_error_line(result)
        assert not (tmp_path / "a.parquet").exists()
    else:  # pragma: no cover - depends on the environment
        import pyarrow.parquet as pq  # type: ignore[import-not-found]

        assert result.exit_code == 0
        assert pq.read_table(tmp_path / "a.parquet").num_rows == 6


# -- stats -----------------------------------------------------------------------------------------


def test_stats_counts_per_source(filled: tuple[str, Ids]) -> None:
    url, _ = filled
    stats = json.loads(ok(url, "stats", "--json"))
    per = {s["source_id"]: s for s in stats["sources"]}
    assert (per[data.EN]["articles"], per[data.EN]["versions"], per[data.EN]["removed"]) == (3, 5, 1)
    assert (per[data.ZH]["articles"], per[data.ZH]["versions"], per[data.ZH]["duplicates"]) == (3, 3, 1)
    assert per[data.ZH]["errors"] == 2 and per[data.ZH]["errors_by_reason"] == {
        "http_status": 1,
        "timeout": 1,
    }
    assert per[data.EN]["last_success_run_id"] == "run-2"
    assert per[data.ZH]["last_success_run_id"] is None  # it failed in the only run
    assert stats["languages"] == {"en": 3, "zh": 3} and (stats["articles"], stats["versions"]) == (6, 8)
    table = ok(url, "stats")
    assert "nsf_news" in table and "2026-03-03 09:00 UTC" in table and "en 50% zh 50%" in table


def test_commands_on_a_missing_database_fail_with_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/absent.db"
    for args in (["stats"], ["search", "x"], ["show", "1"], ["changes", "--since", "2026-01-01"]):
        assert "cannot open the archive" in one_error_line(run(url, *args))
    assert not (tmp_path / "absent.db").exists()  # read-only: never created
