"""Work done once per run in the extraction forkserver, before it forks any worker.

`flows.extraction` lists this module in the forkserver's preload: importing it loads and compiles the
default cleaning rules and their first-character prefilters (`ruleset.Prefilter`, ~0.15 CPU-s in all) and
extracts two small pages, which fills the lazy caches of trafilatura, htmldate and our own modules
(~0.3 s). Every worker forked afterwards starts with all of that done, instead of each doing it again on
its first pages.

langdetect's profiles (~0.8 CPU-s, 59 MB) are not loaded here: script counting and stopwords settle
English, Chinese and the other common languages without them (no page of the 2,000 bench pages needed
them), so a worker loads them at the first page that does.

Import it nowhere else: the process that crawls and stores has no use for it.
"""

from __future__ import annotations

import gc
import logging

from crawlers.extract.article import extract_html
from crawlers.extract.ruleset import rules_for

logger = logging.getLogger(__name__)

_PAGES = {
    "https://warm.example/en/news/1.html": (
        "<html lang='en'><head><title>Research council opens a funding call</title>"
        "<meta property='article:published_time' content='2026-01-05'></head><body><article>"
        "<h1>Research council opens a funding call</h1><p class='byline'>By Jane Roe</p>"
        # Distinct paragraphs with enough common words for the stopword test: a page that needed
        # langdetect would load its profiles here (a repeated paragraph is cleaned away as one).
        + "".join(f"<p>The research council opens call {n} for proposals on climate science and data "
                  f"infrastructure. Applications from universities and institutes that have been reviewed by "
                  f"independent panels will be funded for {n + 2} years.</p>" for n in range(4))
        + "<p>Editor: John Doe</p><p>- END -</p></article></body></html>"
    ),
    "https://warm.example/zh/news/1.html": (
        "<html lang='zh-CN'><head><meta charset='utf-8'><title>科技部发布重点研发计划申报指南</title></head>"
        "<body><div class='article'><h1>科技部发布重点研发计划申报指南</h1><p>发布时间：2026-01-05</p>"
        + "<p>为落实国家科技创新规划，科技部发布年度重点研发计划项目申报指南，鼓励高校和科研院所积极申报。</p>" * 4
        + "<p>责任编辑：陈楠</p></div></body></html>"
    ),
}


def warm() -> None:
    try:
        rules_for().compile()
        for url, html in _PAGES.items():
            extract_html(html.encode("utf-8"), url=url, headers={"content-type": "text/html; charset=utf-8"})
    except Exception:  # noqa: BLE001 - warming is an optimisation: workers still work cold
        logger.warning("warming the extraction workers failed", exc_info=True)
    # Everything loaded so far lives as long as the workers: out of the collector's sight, a worker's
    # garbage collections no longer write to (and so copy) the memory pages it shares with its siblings.
    gc.freeze()


warm()
