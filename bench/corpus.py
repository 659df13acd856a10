"""A seeded corpus of science-policy article pages, shaped like the sites scipol crawls.

Four layouts, each with the furniture real pages carry and our cleaning removes:

- ``news``: an outlet's article (English or Chinese): mega-menu, breadcrumb, byline, share row,
  "Related articles" teasers, newsletter box, long footer, JSON-LD and a large inline app state.
- ``gov``: a ministry notice (Chinese or English): "发布时间 / 来源" bar, font-size switcher,
  attachments, "责任编辑", QR-code prompt, a footer with the site's registration numbers.
- ``wechat``: a WeChat official-account article (Chinese): ``rich_media`` markup, "往期推荐",
  "阅读原文", follow prompts, and the very large inline scripts those pages ship.
- ``press``: an agency press release (English): "FOR IMMEDIATE RELEASE", media contact, "###",
  "About" boilerplate.

Page sizes follow a clipped log-normal (median ~65 KB, 30-150 KB): the article text is a few KB,
the rest is navigation, inline CSS and inline scripts, as on real sites. Everything is derived
from one seed, so the same arguments give byte-identical files.

Layout on disk (``out_dir``)::

    manifest.json                    what was generated (hosts, paths, titles, dates, sha256)
    <host_dir>/a/<n>-<slug>.html     article pages, one folder per host
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

log = logging.getLogger(__name__)

GENERATOR_VERSION = 2
"""Bump when the output changes, so a cached corpus is regenerated."""
BASE_TIME = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
"""Publication dates lie in the two years before this fixed moment (never 'now': runs must match)."""
MIN_BYTES, MAX_BYTES, MEDIAN_BYTES = 30_000, 150_000, 65_000

# (layout, language) of host 0, 1, 2, ...: a mix close to the production source list.
HOST_PROFILES: tuple[tuple[str, str], ...] = (
    ("news", "en"),
    ("gov", "zh"),
    ("wechat", "zh"),
    ("press", "en"),
    ("news", "zh"),
    ("gov", "en"),
    ("news", "en"),
    ("press", "en"),
)

_EN_SUBJECTS = (
    "The agency",
    "The ministry",
    "The National Science Foundation",
    "The research council",
    "The panel",
    "The funding body",
    "The government",
    "The office of science policy",
    "The university consortium",
    "The European Commission",
    "The space agency",
    "The health institute",
    "Lawmakers",
    "The committee",
    "Researchers",
    "The programme director",
    "The secretary of state for science",
    "The review board",
)
_EN_VERBS = (
    "announced",
    "proposed",
    "approved",
    "launched",
    "expanded",
    "reviewed",
    "cut",
    "increased",
    "postponed",
    "confirmed",
    "outlined",
    "published",
    "renewed",
    "criticised",
    "welcomed",
    "evaluated",
)
_EN_OBJECTS = (
    "a new funding call for quantum computing",
    "the budget for basic research",
    "a national AI strategy",
    "grants for early-career scientists",
    "the open-access mandate",
    "a climate research programme",
    "the semiconductor initiative",
    "funding for vaccine development",
    "a review of research integrity",
    "the fusion energy roadmap",
    "support for biodiversity monitoring",
    "the data-sharing policy",
    "new rules on research security",
    "a fellowship scheme for postdoctoral researchers",
    "the national laboratory network",
    "investment in research infrastructure",
    "the exascale project",
)
_EN_TAILS = (
    "on Tuesday",
    "after months of consultation",
    "for the next fiscal year",
    "with immediate effect",
    "despite objections from universities",
    "following a parliamentary hearing",
    "in a statement",
    "worth 120 million dollars",
    "over the next five years",
    "as part of a wider reform",
    "according to officials",
    "after an independent review",
    "in response to the consultation",
)
_EN_CLAUSES = (
    "Applications open in September and close at the end of the year.",
    "Critics said the plan did not go far enough.",
    "The decision affects more than 300 research groups.",
    "Officials expect the first awards to be made within six months.",
    "Universities have long called for a more predictable funding cycle.",
    "The proposal still needs the approval of the finance ministry.",
    "Several learned societies welcomed the move in open letters.",
    "The programme will be evaluated by an international panel.",
)
_EN_FIRST = ("Jane", "Michael", "Priya", "Chen", "Laura", "Tomás", "Aisha", "David", "Sofia", "Kenji")
_EN_LAST = ("Doe", "Smith", "Patel", "Wang", "Müller", "García", "Okafor", "Kim", "Rossi", "Novak")

_ZH_SUBJECTS = (
    "科技部",
    "国家自然科学基金委员会",
    "教育部",
    "中国科学院",
    "工业和信息化部",
    "国家发展改革委",
    "财政部",
    "国务院办公厅",
    "省科技厅",
    "市科技局",
    "中国工程院",
    "国家知识产权局",
    "有关部门",
)
_ZH_VERBS = ("发布", "印发", "启动", "部署", "推进", "公布", "组织实施", "出台", "召开会议研究", "审议通过")
_ZH_OBJECTS = (
    "关于加强基础研究的若干意见",
    "国家重点研发计划重点专项项目申报指南",
    "科技成果转化行动方案",
    "新一代人工智能发展规划",
    "科研诚信建设工作要求",
    "青年科学家支持计划",
    "量子信息科技专项",
    "关键核心技术攻关工程",
    "科技人才评价改革试点方案",
    "国家实验室体系建设规划",
    "集成电路产业扶持政策",
    "碳达峰碳中和科技创新行动方案",
    "基础研究十年行动方案",
    "科研经费管理改革措施",
)
_ZH_TAILS = (
    "，进一步优化科研管理流程。",
    "，着力提升自主创新能力。",
    "，切实减轻科研人员负担。",
    "，推动产学研深度融合。",
    "，为高质量发展提供有力支撑。",
    "，加快建设科技强国。",
    "，完善项目评审和经费使用机制。",
    "，引导社会资本投入基础研究。",
    "，强化企业科技创新主体地位。",
)
_ZH_CLAUSES = (
    "会议强调，要坚持目标导向和问题导向相结合。",
    "各地区各部门要结合实际认真贯彻落实。",
    "据介绍，今年中央财政安排资金较上年增长百分之八。",
    "专家表示，这一举措将有效激发创新活力。",
    "申报单位应于规定时间内通过信息系统提交材料。",
    "下一步，将加强政策评估和动态调整。",
    "截至目前，已有三百余家单位参与试点工作。",
    "文件明确了各项任务的责任分工和时间节点。",
)
_ZH_NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周婷", "吴刚")

_NAV_EN = (
    "News",
    "Funding",
    "Policy",
    "Research",
    "Education",
    "Innovation",
    "Space",
    "Health",
    "Climate",
    "Data",
    "Events",
    "Opinion",
    "Careers",
    "About us",
    "Contact",
    "Subscribe",
)
_NAV_ZH = (
    "首页",
    "要闻",
    "政策",
    "通知公告",
    "科技动态",
    "地方科技",
    "国际合作",
    "人才",
    "基础研究",
    "成果转化",
    "政务公开",
    "互动交流",
    "专题专栏",
    "数据发布",
    "机构设置",
    "办事服务",
)


@dataclass(frozen=True)
class PageEntry:
    """One generated article page."""

    path: str
    """URL path on its host, e.g. ``/a/17-quantum-funding.html``."""
    file: str
    """File name relative to the corpus folder."""
    title: str
    lang: str
    layout: str
    published: str
    """ISO 8601 UTC timestamp (also the Last-Modified of the page)."""
    size: int
    sha256: str


@dataclass(frozen=True)
class HostEntry:
    host: str
    """Loopback address the host is served on (127.0.0.2, 127.0.0.3, ...)."""
    dir: str
    layout: str
    lang: str
    site_name: str
    pages: list[PageEntry]


def host_address(index: int) -> str:
    """The loopback address of host `index` (0 -> 127.0.0.2: 127.0.0.1 is left to everything else)."""
    if not 0 <= index < 250:
        raise ValueError(f"host index {index} out of range 0..249")
    return f"127.0.0.{index + 2}"


def _site_name(layout: str, lang: str, index: int) -> str:
    names = {
        ("news", "en"): "Research Policy Today",
        ("news", "zh"): "科技政策日报",
        ("gov", "zh"): "科学技术部门户网站",
        ("gov", "en"): "Department for Science Notices",
        ("wechat", "zh"): "科技前沿观察",
        ("press", "en"): "National Research Agency Newsroom",
        ("wechat", "en"): "Science Frontier Watch",
        ("press", "zh"): "研究机构新闻中心",
    }
    return f"{names[(layout, lang)]} {index + 1}"


def _page_size(rng: random.Random) -> int:
    # Log-normal around the median; clipped to the range real article pages mostly fall into.
    size = int(MEDIAN_BYTES * math.exp(rng.gauss(0.0, 0.4)))
    return max(MIN_BYTES, min(MAX_BYTES, size))


def _en_sentence(rng: random.Random) -> str:
    s = f"{rng.choice(_EN_SUBJECTS)} {rng.choice(_EN_VERBS)} {rng.choice(_EN_OBJECTS)} {rng.choice(_EN_TAILS)}"
    # A number makes each sentence (and so each article) distinct text, as real articles are.
    if rng.random() < 0.5:
        s += f", a change covering {rng.randint(2, 9000)} projects"
    return s + "."


def _zh_sentence(rng: random.Random) -> str:
    s = f"{rng.choice(_ZH_SUBJECTS)}{rng.choice(_ZH_VERBS)}《{rng.choice(_ZH_OBJECTS)}》"
    if rng.random() < 0.5:
        s += f"，涉及项目{rng.randint(2, 9000)}个"
    return s + rng.choice(_ZH_TAILS)


def _paragraphs(rng: random.Random, lang: str) -> list[str]:
    sentence, clauses = (_en_sentence, _EN_CLAUSES) if lang == "en" else (_zh_sentence, _ZH_CLAUSES)
    sep = " " if lang == "en" else ""
    out = []
    for _ in range(rng.randint(6, 18)):
        parts = [sentence(rng) for _ in range(rng.randint(2, 5))]
        if rng.random() < 0.4:
            parts.insert(rng.randint(0, len(parts)), rng.choice(clauses))
        out.append(sep.join(parts))
    return out


def _title(rng: random.Random, lang: str) -> str:
    if lang == "en":
        obj = rng.choice(_EN_OBJECTS)
        return f"{rng.choice(_EN_SUBJECTS)} {rng.choice(_EN_VERBS)} {obj} ({rng.randint(1, 99999)})"
    return f"{rng.choice(_ZH_SUBJECTS)}{rng.choice(_ZH_VERBS)}{rng.choice(_ZH_OBJECTS)}（{rng.randint(1, 99999)}）"


def _author(rng: random.Random, lang: str) -> str:
    if lang == "en":
        return f"{rng.choice(_EN_FIRST)} {rng.choice(_EN_LAST)}"
    return rng.choice(_ZH_NAMES)


def _nav(rng: random.Random, lang: str, links: int) -> str:
    labels = _NAV_EN if lang == "en" else _NAV_ZH
    items = "".join(
        f'<li class="menu-item menu-item-{i}"><a href="/section/{i % 40}/{i}.html" '
        f'class="nav-link" data-track="nav_{i}">{escape(rng.choice(labels))}</a></li>'
        for i in range(links)
    )
    return f'<nav class="mega-menu" role="navigation" aria-label="Main"><ul class="menu">{items}</ul></nav>'


def _teasers(rng: random.Random, lang: str, heading: str, count: int) -> str:
    items = "".join(
        f'<li><a href="/a/{rng.randint(1, 99999)}-related.html">{escape(_title(rng, lang))}</a></li>'
        for _ in range(count)
    )
    return f'<section class="related"><h2>{escape(heading)}</h2><ul>{items}</ul></section>'


def _footer(rng: random.Random, lang: str, site: str, links: int) -> str:
    labels = _NAV_EN if lang == "en" else _NAV_ZH
    cols = "".join(
        f'<div class="footer-col"><h4>{escape(rng.choice(labels))}</h4><ul>'
        + "".join(
            f'<li><a href="/f/{c}/{j}.html">{escape(rng.choice(labels))}</a></li>' for j in range(links // 6)
        )
        + "</ul></div>"
        for c in range(6)
    )
    legal = (
        f"© 2025 {escape(site)}. All rights reserved. Privacy policy | Terms of use | Cookie settings"
        if lang == "en"
        else f"版权所有：{escape(site)}　主办单位：{escape(site)}　网站标识码：bm06000001　"
        "京ICP备05022684号　京公网安备11010802027185号"
    )
    return f'<footer class="site-footer">{cols}<p class="legal">{legal}</p></footer>'


def _css(rng: random.Random, rules: int) -> str:
    props = (
        "margin:0 auto",
        "padding:4px 8px",
        "color:#1a1a1a",
        "font-size:14px",
        "display:flex",
        "line-height:1.6",
        "border-bottom:1px solid #e5e5e5",
        "background:#fafafa",
        "max-width:1200px",
    )
    body = "".join(
        f".c{rng.randint(0, 99999):05x} .e{i}>a:hover{{{';'.join(rng.sample(props, 3))}}}"
        for i in range(rules)
    )
    return f"<style>{body}</style>"


def _script_blob(rng: random.Random, lang: str, nbytes: int) -> str:
    """An inline app-state script (``__NEXT_DATA__``-like JSON plus tracking code) of about `nbytes`."""
    parts: list[str] = []
    size = 0
    i = 0
    while size < nbytes:
        item = {
            "id": rng.randint(1, 10**7),
            "slug": f"item-{i}",
            "title": _title(rng, lang),
            "url": f"/a/{rng.randint(1, 99999)}.html",
            "views": rng.randint(0, 50000),
            "tags": [rng.choice(_NAV_EN) for _ in range(3)],
        }
        chunk = json.dumps(item, ensure_ascii=False)
        parts.append(chunk)
        size += len(chunk.encode("utf-8")) + 1
        i += 1
    state = "[" + ",".join(parts) + "]"
    return (
        '<script id="__APP_STATE__" type="application/json">{"props":{"pageProps":{"feed":'
        + state
        + "}}}</script><script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push("
        "arguments)}gtag('js',new Date());gtag('config','G-BENCH0000');</script>"
    )


def _json_ld(title: str, published: datetime, author: str, site: str) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": title,
        "datePublished": published.isoformat(),
        "author": {"@type": "Person", "name": author},
        "publisher": {"@type": "Organization", "name": site},
    }
    return f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>'


def _signup(lang: str) -> str:
    text = (
        "Get the weekly science-policy briefing in your inbox."
        if lang == "en"
        else "订阅每周科技政策简报，第一时间获取最新资讯。"
    )
    return (
        f'<div class="newsletter"><p>{text}</p><form action="/subscribe">'
        '<input type="email" name="email" placeholder="you@example.org"><button>Sign up</button></form></div>'
    )


def _head(
    title: str, site: str, lang: str, published: datetime, author: str, css: str, extra: str = ""
) -> str:
    sep = " | " if lang == "en" else "_"
    return (
        f'<!DOCTYPE html>\n<html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}{sep}{escape(site)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta property="og:title" content="{escape(title)}">'
        f'<meta property="og:site_name" content="{escape(site)}">'
        f'<meta property="article:published_time" content="{published.isoformat()}">'
        f'<meta name="author" content="{escape(author)}">{css}{extra}</head>'
    )


def _render_news(
    rng: random.Random, lang: str, site: str, title: str, published: datetime, author: str, paras: list[str]
) -> tuple[str, str]:
    en = lang == "en"
    date_txt = published.strftime("%B %d, %Y") if en else published.strftime("%Y年%m月%d日 %H:%M")
    byline = f"By {author} | {date_txt}" if en else f"本报记者 {author}"
    share = "Share: Facebook Twitter LinkedIn Email" if en else "分享到： 微信 微博 QQ空间"
    related = "Related articles" if en else "相关新闻"
    body = "".join(
        (f"<h2>{escape(p[:60])}</h2>" if i and i % 6 == 0 else "") + f"<p>{escape(p)}</p>"
        for i, p in enumerate(paras)
    )
    head = _head(
        title,
        site,
        lang,
        published,
        author,
        _css(rng, rng.randint(150, 300)),
        _json_ld(title, published, author, site),
    )
    top = (
        '<body class="article-page"><div id="cookie-banner">We use cookies to improve your experience. '
        '<button>Accept</button></div><header class="site-header"><a class="logo" href="/">'
        f"{escape(site)}</a>{_nav(rng, lang, rng.randint(120, 260))}</header>"
        f'<div class="breadcrumb"><a href="/">Home</a> &gt; <a href="/news/">News</a></div>'
        f'<main><article class="story"><h1 class="headline">{escape(title)}</h1>'
        f'<p class="byline">{escape(byline)}</p>'
        f'<div class="share-row">{escape(share)}</div>'
        f'<div class="story-body">{body}</div>'
        f'<p class="share-bottom">{escape(share)}</p></article>'
        f"{_teasers(rng, lang, related, 6)}{_signup(lang)}</main>"
        f'<aside class="most-read">{_teasers(rng, lang, "Most read" if en else "热点推荐", 8)}</aside>'
        f"{_footer(rng, lang, site, rng.randint(60, 120))}"
    )
    return head, top


def _render_gov(
    rng: random.Random, lang: str, site: str, title: str, published: datetime, author: str, paras: list[str]
) -> tuple[str, str]:
    en = lang == "en"
    dept = rng.choice(_ZH_SUBJECTS)
    if en:
        info = f"Published: {published.strftime('%Y-%m-%d')} Source: Department for Science"
        fonts, attach = "Text size: Large Medium Small", f"Annex: guidelines-{rng.randint(1, 999)}.pdf"
        editor, qr, related = f"Editor: {author}", "Print this page | Close window", "Related notices"
    else:
        info = f"发布时间：{published.strftime('%Y-%m-%d %H:%M')}　来源：{dept}"
        fonts, attach = "【字体：大 中 小】", f"附件：申报指南{rng.randint(1, 999)}.pdf"
        editor, qr, related = f"【责任编辑：{author}】", "扫一扫在手机打开当前页", "相关文章"
    loc, home, notices, index_no, issuer = (
        ("You are here: ", "Home", "Notices", "Index no.: ", "Issued by: ")
        if en
        else ("当前位置：", "首页", "通知公告", "索引号：", "发文机关：")
    )
    if en:
        dept = rng.choice(_EN_SUBJECTS)
    body = "".join(f'<p style="text-indent:2em">{escape(p)}</p>' for p in paras)
    head = _head(title, site, lang, published, author, _css(rng, rng.randint(80, 200)))
    top = (
        f'<body><div class="top-bar"><span>{escape(site)}</span> <a href="/en/">English</a> '
        '<a href="/wza/">无障碍</a></div>'
        f'<div class="header"><img src="/images/logo.png" alt="{escape(site)}">'
        f"{_nav(rng, lang, rng.randint(60, 140))}</div>"
        f'<div class="location">{loc}<a href="/">{home}</a> &gt; <a href="/tztg/">{notices}</a></div>'
        f'<div class="main"><div class="xxgk"><table class="xxgk-table"><tr><td>{index_no}'
        f"{rng.randint(10**8, 10**9)}</td><td>{issuer}{escape(dept)}</td></tr></table></div>"
        f'<h1 id="Title">{escape(title)}</h1><div class="pages-date">{escape(info)}'
        f'<span class="font">{escape(fonts)}</span></div>'
        f'<div id="UCAP-CONTENT" class="pages_content">{body}<p>{escape(attach)}</p></div>'
        f'<div class="editor">{escape(editor)}</div><div class="qr">{escape(qr)}</div>'
        f"{_teasers(rng, lang, related, 5)}</div>"
        f"{_footer(rng, lang, site, rng.randint(30, 60))}"
    )
    return head, top


def _render_wechat(
    rng: random.Random, lang: str, site: str, title: str, published: datetime, author: str, paras: list[str]
) -> tuple[str, str]:
    body = "".join(
        f'<section style="margin-bottom:16px"><p style="line-height:1.75em"><span style="font-size:15px">'
        f"{escape(p)}</span></p></section>"
        for p in paras
    )
    head = _head(title, site, lang, published, author, _css(rng, rng.randint(100, 250)))
    top = (
        '<body id="activity-detail" class="zh_CN"><div id="js_article" class="rich_media">'
        '<div class="rich_media_inner"><div id="page-content" class="rich_media_area_primary">'
        f'<h1 class="rich_media_title" id="activity-name">{escape(title)}</h1>'
        f'<div id="meta_content" class="rich_media_meta_list"><span class="rich_media_meta_nickname">'
        f'{escape(site)}</span> <em id="publish_time">{published.strftime("%Y-%m-%d %H:%M")}</em></div>'
        f'<div class="rich_media_content" id="js_content"><p>文 | {escape(author)}</p>{body}'
        "<p>（完）</p><p>来源：科技日报</p><p>编辑：李娜　审核：王芳</p>"
        f"{_teasers(rng, lang, '往期推荐', 5)}"
        "<p>点击“阅读原文”了解更多</p><p>长按识别二维码关注我们</p></div></div></div>"
        '<div class="rich_media_tool"><a id="js_view_source">阅读原文</a> <span>阅读 2.3万</span> '
        "<span>赞 128</span> <span>在看 56</span></div>"
        '<div id="js_pc_qr_code">微信扫一扫关注该公众号</div></div>'
    )
    return head, top


def _render_press(
    rng: random.Random, lang: str, site: str, title: str, published: datetime, author: str, paras: list[str]
) -> tuple[str, str]:
    agency = rng.choice(_EN_SUBJECTS).removeprefix("The ")
    body = "".join(f"<p>{escape(p)}</p>" for p in paras)
    contact = (
        f"Media contact: {author}, Office of Public Affairs, press@agency.example.org, "
        f"+1 202 555 {rng.randint(1000, 9999)}"
    )
    head = _head(
        title,
        site,
        lang,
        published,
        author,
        _css(rng, rng.randint(100, 250)),
        _json_ld(title, published, author, site),
    )
    top = (
        f'<body class="newsroom"><header><a class="logo" href="/">{escape(site)}</a>'
        f"{_nav(rng, lang, rng.randint(80, 200))}</header><main>"
        '<div class="release-label">News release</div>'
        f'<h1 class="release-title">{escape(title)}</h1>'
        f'<div class="release-meta"><time datetime="{published.isoformat()}">'
        f"{published.strftime('%B %d, %Y')}</time></div>"
        f'<div class="release-body"><p><strong>FOR IMMEDIATE RELEASE</strong></p>{body}<p>###</p>'
        f"<p><strong>About {escape(agency)}</strong></p><p>{escape(agency)} supports fundamental research "
        "and education in all the non-medical fields of science and engineering.</p>"
        f"<p>{escape(contact)}</p></div>"
        f"{_teasers(rng, lang, 'Related news releases', 6)}</main>"
        f"{_footer(rng, lang, site, rng.randint(40, 90))}"
    )
    return head, top


_RENDERERS = {"news": _render_news, "gov": _render_gov, "wechat": _render_wechat, "press": _render_press}


def render_page(
    rng: random.Random, layout: str, lang: str, site: str, title: str, published: datetime, target_bytes: int
) -> bytes:
    """One article page of about `target_bytes` (at least the page without its script blob)."""
    author = _author(rng, lang)
    paras = _paragraphs(rng, lang)
    head, body = _RENDERERS[layout](rng, lang, site, title, published, author, paras)
    tail = "</body></html>\n"
    used = len(head.encode("utf-8")) + len(body.encode("utf-8")) + len(tail)
    blob = _script_blob(rng, lang, target_bytes - used) if target_bytes > used + 500 else ""
    # Scripts sit where real pages put them: after the content, before </body>.
    return (head + body + blob + tail).encode("utf-8")


def _slug(title: str, n: int) -> str:
    ascii_words = "".join(c if c.isascii() and c.isalnum() else "-" for c in title.lower()).split("-")
    words = [w for w in ascii_words if w][:6]
    return f"{n}-{'-'.join(words) or 'article'}"


def generate_corpus(out_dir: Path, pages: int, hosts: int, seed: int = 2025) -> list[HostEntry]:
    """Write `pages` article pages spread over `hosts` hosts into `out_dir` (reused when already there)."""
    if pages < 1 or hosts < 1:
        raise ValueError("pages and hosts must be at least 1")
    hosts = min(hosts, pages)
    out_dir = Path(out_dir)
    manifest_path = out_dir / "manifest.json"
    params = {"generator": GENERATOR_VERSION, "pages": pages, "hosts": hosts, "seed": seed}
    cached = load_manifest(out_dir, params)
    if cached is not None:
        log.info("corpus in %s is current (%d pages): reused", out_dir, pages)
        return cached
    out_dir.mkdir(parents=True, exist_ok=True)
    # A corpus made with other parameters: drop its host folders so stale pages don't pile up.
    manifest_path.unlink(missing_ok=True)
    for old in out_dir.glob("h[0-9][0-9][0-9]"):
        shutil.rmtree(old, ignore_errors=True)
    result: list[HostEntry] = []
    for h in range(hosts):
        layout, lang = HOST_PROFILES[h % len(HOST_PROFILES)]
        rng = random.Random(f"{seed}-{h}")
        site = _site_name(layout, lang, h)
        host_dir = f"h{h + 2:03d}"
        (out_dir / host_dir / "a").mkdir(parents=True, exist_ok=True)
        count = pages // hosts + (1 if h < pages % hosts else 0)
        entries: list[PageEntry] = []
        for n in range(count):
            title = _title(rng, lang)
            published = (BASE_TIME - timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60))).replace(second=0)
            body = render_page(rng, layout, lang, site, title, published, _page_size(rng))
            rel = f"{host_dir}/a/{_slug(title, n)}.html"
            (out_dir / rel).write_bytes(body)
            entries.append(
                PageEntry(
                    path="/" + rel.split("/", 1)[1],
                    file=rel,
                    title=title,
                    lang=lang,
                    layout=layout,
                    published=published.isoformat(),
                    size=len(body),
                    sha256=hashlib.sha256(body).hexdigest(),
                )
            )
        result.append(
            HostEntry(
                host=host_address(h), dir=host_dir, layout=layout, lang=lang, site_name=site, pages=entries
            )
        )
    manifest_path.write_text(
        json.dumps({**params, "hosts_list": [asdict(h) for h in result]}, ensure_ascii=False),
        encoding="utf-8",
    )
    log.info("corpus: %d pages on %d hosts written to %s", pages, hosts, out_dir)
    return result


def load_manifest(out_dir: Path, expect: dict[str, int] | None = None) -> list[HostEntry] | None:
    """The hosts of the corpus in `out_dir`, or None when it is missing or made with other parameters."""
    try:
        raw = json.loads((Path(out_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if expect is not None and any(raw.get(k) != v for k, v in expect.items()):
        return None
    hosts = [HostEntry(**{**h, "pages": [PageEntry(**p) for p in h["pages"]]}) for h in raw["hosts_list"]]
    if not all((Path(out_dir) / p.file).is_file() for h in hosts for p in h.pages[:1] + h.pages[-1:]):
        return None
    return hosts
