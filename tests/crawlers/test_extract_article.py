"""extract_html / extract_capture end to end: the seed, metadata, no collateral damage, hostile input."""

from __future__ import annotations

import gzip
import json
import pickle
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from trafilatura import bare_extraction

from crawlers.extract import EXTRACTOR_VERSION, extract_capture, extract_html
from schemas.capture import Capture, sha256_hex
from schemas.sources import CleaningRules, SourceConfig

SEED_DIR = Path("/work/shared/seed")
FIXTURE_SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "china_hitech_herald"
PARA = (
    "The agency said the new programme would support about 200 research groups over five years, with a "
    "first call for proposals expected in the spring and funding decisions before the end of the year."
)


def seed_pages() -> list[tuple[str, bytes]]:
    pages = []
    for name in ("plain", "wechat"):
        shared = SEED_DIR / f"seed_{name}_layout.html"
        fixture = FIXTURE_SEEDS / f"2022-07-12_seed-{name}" / "raw.html.gz"
        if shared.is_file():
            pages.append((name, shared.read_bytes()))
        elif fixture.is_file():  # the golden set holds byte-for-byte copies
            pages.append((name, gzip.decompress(fixture.read_bytes())))
    return pages


def html_page(body: str, head: str = "", title: str = "Agency launches research programme") -> bytes:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>{head}</head>'
        f"<body><article><h1>{title}</h1>{body}</article></body></html>"
    ).encode()


def paragraphs(n: int = 5) -> str:
    return "".join(f"<p>{PARA} Paragraph {i}.</p>" for i in range(n))


@pytest.mark.parametrize(("name", "body"), seed_pages(), ids=[n for n, _ in seed_pages()])
def test_seed_article_is_clean_with_its_metadata(name: str, body: bytes) -> None:
    record = extract_html(
        body, url="https://www.chinahightech.example/a/1.html", source_id="china_hitech_herald"
    )
    assert record is not None
    assert record.text.endswith("compose a new chapter in high -quality development.")
    for junk in (
        "- END -",
        "Summer solstice",
        "Edit: Chen Nan",
        "Experts entry",
        "Our reporter Yu Dayong",
        "Picture source:",
        "Author:China High -tech",
    ):
        assert junk not in record.text
    assert record.authors == ["Yu Dayong"]
    assert record.published == date(2022, 7, 12)
    assert record.language == "en"
    assert record.title == "Shenzhen High -tech Zone builds national strategic technology forces"
    assert not record.text.startswith(record.title)
    assert "\n" in record.text  # paragraphs stay separate lines
    assert record.extractor_version == EXTRACTOR_VERSION


CLEAN_PAGES = {
    "plain_paragraphs": paragraphs(6),
    "with_subheadings": paragraphs(2)
    + "<h2>What happens next</h2>"
    + paragraphs(2)
    + "<h2>Reactions</h2>"
    + paragraphs(2),
    "with_list_and_table": paragraphs(3) + "<ul><li>Call opens in March 2025 for all disciplines</li>"
    "<li>Decisions are expected by the end of the year</li></ul>"
    "<table><tr><td>Programme</td><td>Budget</td></tr><tr><td>Quantum</td><td>40m</td></tr>"
    "</table>" + paragraphs(2),
    "tricky_words": paragraphs(2)
    + "<p>By 2030, the ministry expects to double funding; the pilot will end in "
    "2027 and a review follows.</p><p>Read more about the programme in the annex.</p>"
    "<p>Source data were shared with the committee, which is related to the council.</p>"
    + paragraphs(2)
    + "<p>The debate goes on...</p>",
}


@pytest.mark.parametrize("name", sorted(CLEAN_PAGES))
def test_pages_without_boilerplate_keep_everything_trafilatura_keeps(name: str) -> None:
    body = html_page(CLEAN_PAGES[name])
    record = extract_html(body, url="https://agency.example/news/1")
    plain = bare_extraction(
        body.decode("utf-8"), url="https://agency.example/news/1", include_tables=True, with_metadata=True
    )
    assert record is not None and plain is not None
    plain_lines = [ln.strip() for ln in plain.text.splitlines() if ln.strip()]
    if plain_lines and plain_lines[0] == "Agency launches research programme":
        plain_lines = plain_lines[1:]
    assert record.text.splitlines() == plain_lines


def test_metadata_from_json_ld_meta_tags_and_canonical() -> None:
    ld = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "Ignored Site"},
            {
                "@type": "NewsArticle",
                "headline": "x",
                "datePublished": "2024-11-20T09:00:00+01:00",
                "dateModified": "2024-11-21",
                "author": [
                    {"@type": "Person", "name": "Anna Schmidt"},
                    {"@type": "Person", "name": "Li Wei"},
                ],
                "publisher": {"@type": "Organization", "name": "Research Daily"},
            },
        ],
    }
    head = (
        f'<script type="application/ld+json">{json.dumps(ld)}</script>'
        '<link rel="canonical" href="https://www.agency.example/news/1?utm_source=x">'
    )
    record = extract_html(html_page(paragraphs(4), head), url="https://agency.example/news/1?utm_medium=rss")
    assert record is not None
    assert record.published == date(2024, 11, 20)
    assert record.updated == date(2024, 11, 21)
    assert record.authors == ["Anna Schmidt", "Li Wei"]
    assert record.site_name == "Research Daily"
    assert record.canonical_url == "https://www.agency.example/news/1"


def test_canonical_on_another_site_is_ignored() -> None:
    head = (
        '<link rel="canonical" href="https://aggregator.example/copy/99">'
        '<meta property="og:site_name" content="A">'
    )
    record = extract_html(
        html_page(paragraphs(4), head), url="https://agency.example/news/1?utm_source=feed#top"
    )
    assert record is not None
    assert record.canonical_url == "https://agency.example/news/1"
    assert record.site_name == "A"


def test_chinese_government_pubdate_meta_and_gbk_without_declaration() -> None:
    zh = (
        "科技部发布了关于开展2025年度国家重点研发计划项目申报工作的通知，"
        "要求各单位认真组织申报，确保材料真实准确。"
    )
    page = (
        "<html><head><title>关于开展申报工作的通知</title>"
        '<meta name="PubDate" content="2024-11-20 10:00"></head>'
        f'<body><div class="article"><h1>关于开展申报工作的通知</h1>'
        f"<p>来源：科技部</p>{''.join(f'<p>{zh}</p>' for _ in range(5))}<p>责任编辑：王五</p>"
        f"<p>【打印本页】【关闭窗口】</p></div></body></html>"
    )
    record = extract_html(
        page.encode("gbk"), url="http://www.most.example/tztg/1.html", headers={"content-type": "text/html"}
    )
    assert record is not None
    assert record.published == date(2024, 11, 20)
    assert record.language == "zh"
    assert record.text == "\n".join([zh] * 5)


@pytest.mark.parametrize("value", ["2024-02-30", "10000-01-01", "2024-11-20T10:00:00+25:00"])
def test_malformed_meta_dates_become_none(value: str) -> None:
    head = f'<meta property="article:published_time" content="{value}">'
    record = extract_html(html_page(paragraphs(3), head), url="https://agency.example/n/2")
    assert record is not None
    assert record.published is None


def test_source_drop_selectors_remove_elements_before_extraction() -> None:
    source = SourceConfig(
        id="agency",
        name="Agency",
        feeds=["https://agency.example/rss"],
        cleaning=CleaningRules(drop_selectors=["div.promo"]),
    )
    body = html_page(
        paragraphs(2) + '<div class="promo"><p>Become a member today and save on every '
        "conference ticket we sell this year.</p></div>" + paragraphs(2)
    )
    with_rules = extract_html(body, url="https://agency.example/n/3", source=source)
    without = extract_html(body, url="https://agency.example/n/3")
    assert with_rules is not None and without is not None
    assert "Become a member" in without.text
    assert "Become a member" not in with_rules.text
    assert with_rules.source_id == "agency"


@pytest.mark.parametrize(
    ("name", "body", "headers"),
    [
        ("empty", b"", {}),
        ("whitespace", b"   \n ", {}),
        ("pdf", b"%PDF-1.7\n" + b"\x00" * 100, {"content-type": "text/html"}),
        (
            "gzip_served_as_html",
            gzip.compress(b"<html><body><p>hi</p></body></html>" * 100),
            {"content-type": "text/html"},
        ),
        ("png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, {}),
        ("octet_stream_binary", bytes(range(256)) * 10, {"content-type": "application/octet-stream"}),
        ("no_text", b"<html><body><nav><a href='/'>Home</a></nav></body></html>", {}),
        ("only_furniture", html_page("<p>Edit: Chen Nan</p><p>【打印本页】【关闭窗口】</p>", title="x"), {}),
    ],
)
def test_pages_without_article_text_give_none(name: str, body: bytes, headers: dict[str, str]) -> None:
    assert extract_html(body, url="https://agency.example/x", headers=headers) is None


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>" + b"<div>" * 100_000 + b"<p>deep</p>" + b"</div>" * 100_000 + b"</body></html>",
        b"<html><body><p>unclosed <b>tags <i>everywhere " + b"<p>" + PARA.encode() * 5 + b"\x00\x01\x02",
        b"<?xml version='1.0' encoding='utf-8'?><html><body><article><p>"
        + PARA.encode() * 3
        + b"</p></article></body></html>",
        b"\xff\xfe\x00\x00garbage" + b"\xc3\x28" * 1000,
    ],
)
def test_hostile_html_never_raises(body: bytes) -> None:
    result = extract_html(body, url="https://agency.example/x")
    assert result is None or isinstance(result.text, str)


def test_html_served_as_octet_stream_is_still_extracted() -> None:
    record = extract_html(
        html_page(paragraphs(3)),
        url="https://agency.example/x",
        headers={"content-type": "application/octet-stream"},
    )
    assert record is not None


def _capture(kind: str = "page", body: bytes | None = None) -> Capture:
    return Capture(
        source_id="agency",
        url="https://agency.example/n/4?utm_source=rss",
        final_url="https://agency.example/n/4",
        status=200 if kind == "page" else 304,
        kind=kind,  # type: ignore[arg-type]
        headers={"content-type": "text/html; charset=utf-8"},
        body=body,
        sha256=sha256_hex(body) if body else None,
        fetched_at=datetime(2025, 1, 1, tzinfo=UTC),
        hint_title="Feed title",
        hint_published=datetime(2024, 12, 31, 23, 0, tzinfo=UTC),
    )


def test_extract_capture_uses_final_url_sha_and_hints() -> None:
    body = html_page(paragraphs(3), title="")
    record = extract_capture(_capture(body=body))
    assert record is not None
    assert record.url == "https://agency.example/n/4"
    assert record.capture_sha256 == sha256_hex(body)
    assert record.source_id == "agency"
    assert record.title == "Feed title"
    assert record.published == date(2024, 12, 31)


def test_extract_capture_of_a_revisit_is_none() -> None:
    assert extract_capture(_capture(kind="not_modified")) is None


def test_extract_capture_runs_in_a_process_pool() -> None:
    capture = _capture(body=html_page(paragraphs(3)))
    pickle.dumps(extract_capture)
    with ProcessPoolExecutor(max_workers=1) as pool:
        record = pool.submit(extract_capture, capture).result(timeout=120)
    assert record is not None
    assert record == extract_capture(capture)


def test_updated_equal_to_published_is_no_update() -> None:
    head = (
        '<meta property="article:published_time" content="2025-05-13T08:00:00+02:00">'
        '<meta property="article:modified_time" content="2025-05-13T18:00:00+02:00">'
    )
    record = extract_html(html_page(paragraphs(), head=head), url="https://news.example/a")
    assert record is not None
    assert record.published == date(2025, 5, 13)
    assert record.updated is None


def test_dublin_core_creator_that_is_an_organisation_is_not_an_author() -> None:
    head = '<meta name="DC.Creator" content="Northern Research Council">'
    record = extract_html(html_page(paragraphs(), head=head), url="https://news.example/a")
    assert record is not None and record.authors == []
    head = '<meta name="DC.Creator" content="Jane Doe">'
    record = extract_html(html_page(paragraphs(), head=head), url="https://news.example/a")
    assert record is not None and record.authors == ["Jane Doe"]


def test_inline_only_sections_are_paragraphs_so_wechat_subheadings_survive() -> None:
    body = (
        '<div id="js_content">'
        + paragraphs(2)
        + "<section><span><strong>01 Tiered funding levels</strong></span></section>"
        + paragraphs(3)
        + "</div>"
    )
    record = extract_html(html_page(body), url="https://mp.weixin.example/s/abc")
    assert record is not None
    assert "01 Tiered funding levels" in record.text


def test_named_newsletter_box_inside_the_body_is_removed() -> None:
    box = (
        '<div class="nl-box"><p>Every Friday the week in research policy.</p><a href="#">Sign me up</a></div>'
    )
    record = extract_html(html_page(paragraphs(2) + box + paragraphs(3)), url="https://news.example/a")
    assert record is not None
    assert "Every Friday the week in research policy." not in record.text
    assert "Paragraph 2." in record.text


def test_unspaced_title_suffix_naming_the_publisher_is_dropped() -> None:
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>深海观测网进入全面组网阶段-中讯网</title>'
        '<meta name="source" content="中讯网"></head><body>'
        '<div class="title">深海观测网进入全面组网阶段</div>'
        + "".join(
            f"<p>记者从国家海洋科学研究中心获悉，深海科学观测网建设已完成第一期主干网布设。第{i}段。</p>"
            for i in range(5)
        )
        + "</body></html>"
    ).encode()
    record = extract_html(page, url="https://www.zxw.example/a.shtml")
    assert record is not None
    assert record.title == "深海观测网进入全面组网阶段"
    assert not record.text.startswith("深海观测网进入全面组网阶段")
