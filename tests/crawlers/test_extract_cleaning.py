"""Cleaning of extracted text: cuts only in the trailing part, furniture anywhere, bylines kept as data."""

from __future__ import annotations

from datetime import date

from crawlers.extract.bylines import parse_names
from crawlers.extract.cleaning import clean_text
from crawlers.extract.ruleset import rules_for
from schemas.sources import CleaningRules

PARA = (
    "The ministry said the new programme would support about 200 research groups over five years, "
    "with a first call for proposals expected in the spring and decisions before the end of the year."
)


def body(*extra: str, paragraphs: int = 6) -> str:
    return "\n".join([*(f"{PARA} ({i})" for i in range(paragraphs)), *extra])


def test_end_marker_and_everything_after_it_are_cut() -> None:
    cleaned = clean_text(body("- END -", "Another story headline", "Its lead, cut short..."), rules_for())
    assert cleaned.text == body()


def test_end_marker_words_inside_prose_never_cut() -> None:
    text = body("The pilot will END in 2026, the ministry said, and a review follows.", paragraphs=3)
    assert clean_text(text, rules_for()).text == text


def test_an_end_marker_near_the_top_does_not_cut_the_article() -> None:
    text = "\n".join([PARA, "###", *(PARA for _ in range(8))])
    assert clean_text(text, rules_for()).text == text


def test_chinese_end_marker_cuts_the_tail() -> None:
    zh = "科技部发布了关于开展2025年度国家重点研发计划项目申报工作的通知，要求各单位认真组织申报。"
    text = "\n".join([zh] * 5 + ["（完）", "往期推荐", "相关新闻标题一"])
    assert clean_text(text, rules_for()).text == "\n".join([zh] * 5)


def test_teaser_heading_in_the_trailing_part_cuts_it_and_the_rest() -> None:
    text = body("Related news", "Funding agency names new director", "Telescope survey finds 40 new galaxies")
    assert clean_text(text, rules_for()).text == body()


def test_teaser_heading_words_early_in_the_text_are_kept() -> None:
    text = "\n".join([PARA, "Related work", PARA, PARA, PARA, PARA, PARA])
    assert clean_text(text, rules_for()).text == text


def test_teaser_heading_of_a_short_article_followed_only_by_headlines_cuts() -> None:
    headlines = [f"Short headline number {i} about science policy" for i in range(12)]
    text = "\n".join([PARA, "Read more", *headlines])
    assert clean_text(text, rules_for()).text == PARA


def test_trailing_headline_links_are_cut_using_the_html_link_texts() -> None:
    links = ["Experts visit enterprises to help them upgrade", "Summer solstice: live up to time"]
    text = body(*links)
    link_texts = frozenset(t.casefold() for t in links)
    assert clean_text(text, rules_for(), link_texts=link_texts).text == body()
    # Without the HTML's evidence the same lines are ordinary short paragraphs and stay.
    assert clean_text(text, rules_for()).text == text


def test_trailing_headline_and_truncated_lead_pairs_are_cut() -> None:
    text = body(
        "Experts entry into enterprises",
        "On June 22, 2022, Professor Chen, an expert of the Hubei Equipm...",
        "Summer solstice live up to time",
        "The lotus leaves are infinitely clear. Chinese astrono...",
    )
    assert clean_text(text, rules_for()).text == body()


def test_a_single_last_paragraph_ending_in_an_ellipsis_is_kept() -> None:
    text = body("And so the debate goes on...")
    assert clean_text(text, rules_for()).text == text


def test_attachment_links_at_the_end_are_kept() -> None:
    text = body("附件1：2025年度项目申报指南.pdf", "附件2：申报书模板.docx")
    link_texts = frozenset({"附件1：2025年度项目申报指南.pdf", "附件2：申报书模板.docx"})
    assert clean_text(text, rules_for(), link_texts=link_texts).text == text


def test_furniture_lines_are_removed_anywhere_and_bylines_become_authors() -> None:
    text = "\n".join(
        ["Our reporter Yu Dayong", PARA, "Picture source: Shenzhen High -tech Zone", PARA, "Edit: Chen Nan"]
    )
    cleaned = clean_text(text, rules_for())
    assert cleaned.text == f"{PARA}\n{PARA}"
    assert cleaned.byline_authors == ["Yu Dayong"]


def test_by_a_and_b_gives_two_authors() -> None:
    cleaned = clean_text(body("By Jane Doe and John Smith", paragraphs=2), rules_for())
    assert cleaned.byline_authors == ["Jane Doe", "John Smith"]
    assert "By Jane Doe" not in cleaned.text


def test_prose_starting_with_by_stays() -> None:
    text = body("By 2030, the ministry expects to double its funding for basic research.", paragraphs=2)
    cleaned = clean_text(text, rules_for())
    assert cleaned.text == text
    assert cleaned.byline_authors == []


def test_author_time_bar_gives_a_date_and_a_fallback_author() -> None:
    cleaned = clean_text(
        "\n".join(["Author:China High -tech Industrial He Time:2022.07.12", PARA, PARA]), rules_for()
    )
    assert cleaned.text == f"{PARA}\n{PARA}"
    assert cleaned.dates == [date(2022, 7, 12)]
    assert cleaned.field_authors == ["China High -tech Industrial He"]


def test_chinese_info_bar_and_editor_lines() -> None:
    zh = "国家自然科学基金委员会发布了2025年度项目指南，共设立重点项目领域四十余个，资助强度进一步提高。"
    text = "\n".join(
        [
            "来源：科技日报 发布时间：2024-11-20 10:00",
            "本报记者 张三 李四",
            zh,
            zh,
            "责任编辑：王五",
            "【打印本页】【关闭窗口】",
        ]
    )
    cleaned = clean_text(text, rules_for())
    assert cleaned.text == f"{zh}\n{zh}"
    assert cleaned.byline_authors == ["张三", "李四"]
    assert cleaned.dates == [date(2024, 11, 20)]


def test_bylines_inside_a_cut_teaser_block_are_not_this_articles_authors() -> None:
    cleaned = clean_text(body("Related stories", "By Someone Else", "Another headline here"), rules_for())
    assert cleaned.byline_authors == []


def test_leading_title_lines_are_removed() -> None:
    cleaned = clean_text("Big Headline\n" + body(), rules_for(), titles=["Big  headline"])
    assert cleaned.text == body()


def test_source_end_marker_applies_with_the_defaults() -> None:
    rules = rules_for(cleaning=CleaningRules(end_markers=[r"\*\*\* fin \*\*\*"]))
    assert clean_text(body("*** fin ***", "Promo line"), rules).text == body()


def test_text_that_is_only_furniture_cleans_to_empty() -> None:
    assert clean_text("Edit: Chen Nan\n责任编辑：王五", rules_for()).text == ""


def test_parse_names_rejects_non_names() -> None:
    assert parse_names("Jane Doe, John Smith and Li Wei") == ["Jane Doe", "John Smith", "Li Wei"]
    assert parse_names("the end of the year") == []
    assert parse_names("2030") == []
    assert parse_names("Staff Reporter") == []
    assert parse_names("李和平") == ["李和平"]


def test_a_notice_keeps_its_signing_date_and_offers_it_as_a_date() -> None:
    zh = "请各单位于2025年4月30日前通过国家科技管理信息系统报送试点申请材料，逾期不予受理。"
    text = "\n".join([zh] * 4 + ["特此通知。", "科技部办公厅", "2025年3月7日", "（此件主动公开）"])
    cleaned = clean_text(text, rules_for())
    assert cleaned.text == text
    assert cleaned.dates == [date(2025, 3, 7)]


def test_a_date_line_above_the_body_is_still_removed() -> None:
    zh = "请各单位于2025年4月30日前通过国家科技管理信息系统报送试点申请材料，逾期不予受理。"
    cleaned = clean_text("\n".join(["2025年3月10日", *[zh] * 4]), rules_for())
    assert cleaned.text == "\n".join([zh] * 4)
    assert cleaned.dates == [date(2025, 3, 10)]


def test_reporter_named_in_a_dateline_becomes_the_author_and_stays_in_the_body() -> None:
    first = "中讯网北京4月2日电 （记者 孙立言）记者2日从国家海洋科学研究中心获悉，观测网进入全面组网阶段。"
    text = "\n".join(
        [first, "据介绍，该观测网由海底主基站、次级接驳盒和各类观测节点组成，可长期连续实时观测。"]
    )
    cleaned = clean_text(text, rules_for())
    assert cleaned.text == text
    assert cleaned.byline_authors == ["孙立言"]


def test_contacts_heading_cuts_only_when_nothing_after_it_is_prose() -> None:
    contact = ["Media enquiries", "Press office: 020 7946 0000", "press@agency.example"]
    assert clean_text(body(*contact), rules_for()).text == body()
    # A real section that happens to be called "Contacts" is followed by prose: it stays.
    prose = ["Contacts", PARA]
    assert clean_text(body(*prose, paragraphs=3), rules_for()).text == body(*prose, paragraphs=3)


def test_wire_signoff_and_distribution_notes_are_removed() -> None:
    signoff = "(Reporting by Kate Holden in London; Additional reporting by Sam Lee; Editing by Alison Marsh)"
    notes = ["Notes to editors", "The funding is drawn from the existing budget and is not new money."]
    assert clean_text(body(signoff, *notes), rules_for()).text == body()


def test_several_contact_details_on_one_line_follow_a_media_contact() -> None:
    text = body(
        "新聞聯絡人：前瞻及應用科技處 黃怡君 科長", "辦公室電話：(02)2737-7999　行動電話：0912-345-678"
    )
    assert clean_text(text, rules_for()).text == body()
