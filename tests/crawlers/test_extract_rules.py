"""Every cleaning rule in crawlers/extract/rules/*.yaml: one line it removes, one similar line it keeps."""

from __future__ import annotations

import pytest

from crawlers.extract.cleaning import _furniture
from crawlers.extract.ruleset import LineRule, _rule_files, load_rules_file, rules_for
from schemas.sources import CleaningRules

# rule name -> (a line the rule must recognise, a similar line it must leave alone)
CASES: dict[str, tuple[str, str]] = {
    # end markers
    "decorated_end": ("- END -", "The project will end - as planned - in 2026."),
    "bracketed_end": ("(END)", "(END of the first phase) funding continues."),
    "bare_end": ("END", "END of an era for the observatory"),
    "ends": ("-ENDS-", "The programme ends in March."),
    "enditem": ("Enditem", "The enditem field in the dataset was renamed."),
    "hashes": ("###", "### Section three"),
    "dash_30": ("-30-", "-30- degrees at the station"),
    "de_ende": ("(Ende)", "Ende der Förderperiode"),
    "fr_fin": ("- FIN -", "La fin du programme est prévue."),
    "wan": ("（完）", "完成了第一阶段"),
    "dash_wan": ("—— 完 ——", "完善科研评价体系"),
    "quanwen_wan": ("全文完", "全文完整版请见附件"),
    # teaser headings
    "related": ("Related news", "Related work by the team was published in 2023."),
    "read_more": (
        "Read more:",
        "Read more about the methods in the paper's supplement, which lists all sites.",
    ),
    "more_from": ("More from Nature", "More from the funding will go to early-career researchers."),
    "more_stories": ("More stories", "More stories of success are expected."),
    "also_like": ("You may also like", "You may also like to know that applications close in May."),
    "recommended": ("Recommended for you", "Recommended budgets are listed in Annex 2."),
    "further_reading": ("Further reading", "Further reading of the draft shows three changes."),
    "also_read": ("Also read", "Also read by the committee were two letters."),
    "most_read": ("Most read", "Most read the report before the vote."),
    "de_related": ("Mehr zum Thema", "Mehr zum Thema Förderung erfahren Sie am Mittwoch in Berlin."),
    "de_more_from": ("Mehr aus Berlin", "Mehr aus Berlin kam nicht, sagte sie."),
    "fr_related": ("À lire aussi", "À lire aussi attentivement que le décret lui-même."),
    "zh_related": ("往期推荐", "我们推荐阅读原始文件并结合地方实际贯彻落实。"),
    # furniture lines
    "our_reporter": ("Our reporter Yu Dayong", "Our reporter asked the minister about the budget."),
    "reporter_field": ("Reporter: Li Wei", "Reporter: the ministry declined to comment on the budget plans."),
    "by_line": ("By Jane Doe and John Smith", "By 2030, the ministry expects to double funding."),
    "author_time_bar": (
        "Author:China High -tech Industrial He Time:2022.07.12",
        "Author and time were both absent from the record, the auditors said.",
    ),
    "author_field": ("Author: Maria Rossi", "Authorities said the programme will continue."),
    "time_field": ("Time:2022.07.12", "Time: the most valuable resource for early-career researchers"),
    "updated_line": ("Last updated: 7 February 2025", "Updated guidance on open access will follow in 2025."),
    "date_line": ("November 20, 2024", "20 November 2024 was the day the council voted on the budget."),
    "press_label": ("FOR IMMEDIATE RELEASE", "Press releases from the agency are archived online."),
    "press_contact_line": (
        "Ansprechpartnerin in der DFF-Pressestelle: Dr. Katrin Vogel, Tel. +49 228 555-2210",
        "The media reported that funding rose in 2019-2024 across all programmes.",
    ),
    "email_only": ("ksy@asiawire.example", "Write to info@example.org for details."),
    "inline_teaser": (
        "Read more: UK universities brace for a second year of cuts",
        "Read more about the programme in the annex.",
    ),
    "next_previous": (
        "Next article: Telescope funding restored",
        "Next steps: the ministry will publish the call.",
    ),
    "de_press_label": ("Pressemitteilung: 012/2025", "Pressemitteilungen der Länder wurden ausgewertet."),
    "de_date_line": (
        "Veröffentlicht am 9. Dezember 2024",
        "9. Dezember 2024 beschloss der Ausschuss die Förderung.",
    ),
    "de_inline_teaser": (
        "Lesen Sie auch: Neue Graduiertenkollegs bewilligt",
        "Lesen Sie auch den Bericht der Kommission, der im Mai erschien.",
    ),
    "fr_press_label": ("Communiqué de presse", "Communiqué tardif, la décision a surpris les chercheurs."),
    "fr_date_line": (
        "Publié le 5 février 2025 – Mis à jour le 7 février 2025",
        "Publié le 5 février 2025, le décret fixe les règles.",
    ),
    "fr_updated_line": (
        "Mis à jour le 7 février 2025",
        "Mis à jour régulièrement, le site présente les appels.",
    ),
    "fr_inline_teaser": (
        "Lire aussi : La réforme du doctorat, un an après",
        "Lire aussi les recommandations du Hcéres publiées en mai.",
    ),
    "zh_updated_field": ("更新时间：2024-11-21 08:00", "更新时间表将于下月公布。"),
    "zh_date_line": ("2024年10月30日 星期三", "2024年10月30日，学校召开了科研工作会议。"),
    "zh_next_previous": ("下一篇：学校召开2025年度科研工作会议", "下一篇章将由青年科学家书写。"),
    "zh_inline_teaser": ("延伸阅读：科研经费管理改革三年回顾", "延伸阅读材料已上传至平台。"),
    "source_field": (
        "Source: Ministry of Science and Technology",
        "Sources close to the agency said the review would take until the end of the year, possibly longer.",
    ),
    "editor": ("Edit: Chen Nan", "Editing genes in crops is now permitted under the new rules."),
    "photo_credit": ("Picture source: Shenzhen High -tech Zone", "Pictures of the telescope were released."),
    "photo_field": ("Photo: Xinhua", "Photosynthesis research received the largest grant."),
    "media_contact": (
        "Media contact: press@example.org, +1 555 0100",
        "Media coverage of the decision was limited.",
    ),
    "share_prompt": ("Share on Facebook Twitter", "Shares of the company rose after the grant."),
    "social_row": ("Facebook | Twitter | LinkedIn | Email", "Facebook said it would fund two labs."),
    "newsletter": (
        "Sign up for our weekly newsletter to get the latest science policy news",
        "Researchers can sign up for the workshop until May.",
    ),
    "follow_us": ("Follow us on X and LinkedIn", "Follow-up studies are planned."),
    "scan_to_follow": ("Scan the QR code to follow us", "Scanning the sky for transients is the goal."),
    "print_close": ("Print | Close window", "Printed copies of the plan are available at the library."),
    "bracket_tools": ("【打印本页】【关闭窗口】", "【科技日报】国家自然科学基金委员会发布2025年度项目指南。"),
    "font_size": ("字体：大 中 小", "字体设计大赛获奖作品公布"),
    "de_byline": ("Von Anna Schmidt", "Von den 40 Anträgen wurden zwölf bewilligt."),
    "de_credit": ("Foto: dpa", "Fotovoltaik wird stärker gefördert."),
    "de_editor": ("Redaktion: Jan Weber", "Redaktionsschluss war am Freitag."),
    "de_contact": (
        "Pressekontakt: Referat Öffentlichkeitsarbeit",
        "Presseberichte zufolge steigt das Budget.",
    ),
    "de_share": ("Artikel teilen", "Teilergebnisse liegen vor."),
    "de_newsletter": ("Newsletter abonnieren und nichts verpassen", "Der Newsletter erscheint monatlich."),
    "de_print": ("Drucken", "Druckerzeugnisse sind ausgenommen."),
    "fr_byline": ("Par Claire Dubois", "Par ailleurs, le ministère a annoncé deux appels."),
    "fr_credit": ("Crédit photo : AFP", "Crédits de recherche en hausse de 5 %."),
    "fr_contact": ("Contact presse : Service communication", "Le contact avec les équipes a été rétabli."),
    "fr_share": ("Partager sur Facebook", "Partager les données est désormais obligatoire."),
    "fr_newsletter": ("Abonnez-vous à notre newsletter", "Les chercheurs se sont abonnés au service."),
    "fr_print": ("Imprimer", "Imprimer des organes en 3D reste difficile."),
    "zh_author_bar": (
        "作者：中国高新技术产业导报 时间：2022-07-12",
        "作者和时间均未在档案中注明，审计人员表示。",
    ),
    "zh_reporter": (
        "本报记者 张三 李四",
        "记者从科技部获悉，2025年度项目申报工作即将启动，请各单位按要求做好组织工作。",
    ),
    "zh_text_by": ("文：王小明", "文化和科技融合发展取得新进展。"),
    "zh_author_field": ("作者：王小明", "作者在论文中提出了新的方法。"),
    "zh_editor": ("责任编辑：陈楠", "编辑部收到了大量来稿，内容涉及基础研究、应用研究和成果转化等多个方面。"),
    "zh_photo_credit": ("图片来源：深圳高新区", "图片展示了新型显示技术的最新成果。"),
    "zh_source": ("来源：科技日报", "来源广泛的社会资本参与了基金设立。"),
    "zh_time_field": ("发布时间：2024-11-20 10:00", "时间紧、任务重，各单位要高度重视。"),
    "zh_read_original": (
        "点击“阅读原文”查看详情",
        "阅读原文件可以了解更多背景，包括此前三年的执行情况与下一步的改革安排等内容。",
    ),
    "zh_follow": ("长按识别二维码关注我们", "点击率提升了三成。"),
    "zh_share": ("分享到：微信 微博", "分享经验是本次会议的重要内容。"),
    "zh_social_row": ("微信 | 微博 | QQ空间", "微信支付和科研经费报销的衔接问题受到关注。"),
    "zh_media_contact": (
        "新聞聯絡人：綜合規劃處 林佳慧 科長",
        "媒体联系人制度将进一步完善，各单位应当指定专人负责。",
    ),
    "zh_browse_count": ("浏览次数：1234", "浏览次数多的文章不一定质量高。"),
    # Trailing distribution boilerplate, wire sign-offs, footers, header metadata (holdout failure classes).
    "notes_to_editors": ("Notes to editors", "Notes to editors are published with every release."),
    "update_history": ("Last updated 17 March 2025 + show all updates", "Show all updates to the committee."),
    "contacts_heading": ("Media enquiries", "Media enquiries rose sharply after the announcement."),
    "copyright_footer": (
        "东山大学党委宣传部　版权所有",
        "The museum holds the copyright to the recordings, it said.",
    ),
    "dangling_links": ("Associated links", "Associated links between funding and output were weak."),
    "wire_signoff": (
        "(Reporting by Kate Holden and Samir Dutta; Editing by Alison Marsh)",
        "(Reporting by the agency showed a rise in applications.",
    ),
    "date_place_line": (
        "January 29, 2025 — Ottawa, Ontario",
        "On January 29, 2025 the council met in Ottawa.",
    ),
    "postal_address": (
        "Université Val-de-Loire - 12 avenue des Lettres - 45000 Orléans",
        "The lab moved to 12 avenue des Lettres in 45000 Orléans last year.",
    ),
    "de_dangling": ("Pressekontakt", "Pressekontakt ist Frau Müller."),
    "de_signup": ("Jetzt anmelden", "Jetzt anmelden müssen sich alle Antragsteller bis Mai."),
    "fr_dangling": ("En savoir plus", "En savoir plus sur les critères n'est pas nécessaire."),
    "zh_dangling": ("傳媒查詢", "傳媒查詢電話將於下月更新。"),
    "zh_doc_meta": (
        "| 索 引 号： | 000014349/2025-00089 | 主题分类： | 科技资源 |",
        "索引号制度自2008年起实施，便于公众检索政府信息。",
    ),
    "zh_time_source_line": (
        "2025年04月02日 14:26　来源：中讯网　参与互动",
        "2025年4月2日，来源于各地的代表齐聚北京。",
    ),
    "zh_press_release_by": (
        "本新聞稿由東嶺大學傳訊及公共關係處提供。",
        "本研究由國家科學及技術委員會資助，成果已發表於期刊。",
    ),
    "zh_icp": ("东ICP备06001234号", "网站需办理ICP备案的规定已实施多年，监管部门持续加强管理。"),
    "zh_subscribe": ("訂閱科學月刊", "訂閱制期刊的價格持續上漲，圖書館經費壓力加大。"),
}


def _all_rules() -> list[LineRule]:
    rules: list[LineRule] = []
    for path in _rule_files():
        rules.extend(load_rules_file(path)[0])
    return rules


def _fires(rule: LineRule, line: str) -> bool:
    ruleset = rules_for()
    if rule.kind == "drop_line":
        hit = _furniture(line, ruleset)
        return hit is not None and hit[0].name == rule.name
    return rule.match(line) is not None


def test_every_packaged_rule_has_a_positive_and_a_negative_case() -> None:
    names = {r.name for r in _all_rules()}
    assert names - set(CASES) == set(), "rules without test cases"
    assert set(CASES) - names == set(), "test cases for rules that no longer exist"


@pytest.mark.parametrize("rule", _all_rules(), ids=lambda r: r.name)
def test_rule_recognises_its_positive_case(rule: LineRule) -> None:
    assert _fires(rule, CASES[rule.name][0])


@pytest.mark.parametrize("rule", _all_rules(), ids=lambda r: r.name)
def test_rule_leaves_its_negative_case_alone(rule: LineRule) -> None:
    negative = CASES[rule.name][1]
    if rule.kind == "drop_line":
        assert _furniture(negative, rules_for()) is None
    else:
        assert rule.match(negative) is None


def test_source_patterns_are_merged_before_the_defaults() -> None:
    extra = CleaningRules(
        drop_line_patterns=[r"Copyright \d{4} Example Agency"],
        end_markers=[r"=== fin ==="],
        teaser_headings=[r"Other announcements"],
        drop_selectors=[".promo"],
    )
    rules = rules_for(cleaning=extra)
    assert rules.drop_lines[0].origin == "source:adhoc"
    assert any(r.pattern.pattern == "=== fin ===" for r in rules.end_markers)
    assert any(r.pattern.pattern == "Other announcements" for r in rules.teaser_headings)
    assert ".promo" in rules.drop_selectors
    assert _furniture("Copyright 2024 Example Agency", rules) is not None
    assert _furniture("Copyright 2024 Example Agency", rules_for()) is None


def test_rules_are_compiled_once_per_distinct_rule_set() -> None:
    assert rules_for() is rules_for()
    extra = CleaningRules(drop_line_patterns=["x+"])
    assert rules_for(cleaning=extra) is rules_for(cleaning=CleaningRules(drop_line_patterns=["x+"]))


def test_an_invalid_source_selector_is_skipped_not_raised() -> None:
    rules = rules_for(cleaning=CleaningRules(drop_selectors=["div[[["]))
    assert rules.drop_xpath is not None  # the defaults still apply
