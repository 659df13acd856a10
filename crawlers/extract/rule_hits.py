"""Which of a source's own cleaning rules still match a page: the source health check asks this to
notice a redesigned template (a rule that matches nothing any more is dead weight, and the boilerplate
it was written for now leaks into stored text in some new shape).

The page goes through the same steps as extraction (decode, parse, prune, trafilatura) so a rule is
judged against exactly what it would be applied to: selectors against the parsed HTML, line patterns
against the lines of trafilatura's text before cleaning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from lxml.html import HtmlElement
from trafilatura.utils import load_html

# Private helpers on purpose: the check must see the page exactly as `extract_html` does, and a copy
# of these steps would drift from the original.
from crawlers.extract.article import _CONTROL, _XML_DECL, _droppable, _prune, _trafilatura
from crawlers.extract.cleaning import _BULLET
from crawlers.extract.dates import DATE_PATTERN
from crawlers.extract.decode import decode_html
from crawlers.extract.ruleset import _selectors_xpath, rules_for
from schemas.sources import SourceConfig

logger = logging.getLogger(__name__)

RuleKind = Literal["drop_selector", "drop_line_pattern", "end_marker", "teaser_heading"]


@dataclass(frozen=True)
class RuleHit:
    kind: RuleKind
    rule: str
    """The selector or pattern as written in the sources file."""
    matches: int
    """Elements (selectors) or text lines (patterns) it matched on this page; 0 for an invalid rule."""


@dataclass(frozen=True)
class CleaningReport:
    """One page against one source's own cleaning rules (the packaged default rules are not judged)."""

    hits: tuple[RuleHit, ...]
    text_lines: int
    """Lines of text trafilatura extracted (0: the page had no text, so no pattern could match)."""

    @property
    def matched(self) -> list[RuleHit]:
        return [h for h in self.hits if h.matches > 0]

    @property
    def unmatched(self) -> list[RuleHit]:
        return [h for h in self.hits if h.matches == 0]


def _source_rules(source: SourceConfig) -> list[tuple[RuleKind, str]]:
    c = source.cleaning
    return [
        *(("drop_selector", s) for s in c.drop_selectors),
        *(("drop_line_pattern", p) for p in c.drop_line_patterns),
        *(("end_marker", p) for p in c.end_markers),
        *(("teaser_heading", p) for p in c.teaser_headings),
    ]


def _compile_line_rule(pattern: str) -> re.Pattern[str] | None:
    # The same compilation as ruleset._build for source patterns.
    try:
        return re.compile(pattern.replace("{DATE}", DATE_PATTERN), re.IGNORECASE)
    except re.error:
        return None


def cleaning_report(
    body: bytes, *, url: str, source: SourceConfig, headers: dict[str, str] | None = None
) -> CleaningReport:
    """How often each of `source.cleaning`'s rules matches this page. Never raises on bad HTML."""
    rules = _source_rules(source)
    counts = dict.fromkeys(range(len(rules)), 0)
    text_lines = 0
    try:
        decoded = decode_html(body, headers)
        html = _CONTROL.sub("", _XML_DECL.sub("", decoded.text, count=1))
        tree = load_html(html) if html.strip() else None
        if tree is not None:
            for i, (kind, rule) in enumerate(rules):
                if kind != "drop_selector":
                    continue
                xpath = _selectors_xpath((rule,), f"source:{source.id}")
                found = xpath(tree) if xpath is not None else []
                counts[i] = sum(1 for el in found if isinstance(el, HtmlElement) and _droppable(el))
            _prune(tree, rules_for(source), html)
            doc = _trafilatura(tree, url)
            text = (getattr(doc, "text", None) or "") if doc is not None else ""
            lines = [_BULLET.sub("", ln.strip()) for ln in text.splitlines() if ln.strip()]
            text_lines = len(lines)
            for i, (kind, rule) in enumerate(rules):
                if kind == "drop_selector":
                    continue
                pattern = _compile_line_rule(rule)
                if pattern is not None:
                    counts[i] = sum(1 for ln in lines if pattern.fullmatch(ln))
    except Exception:  # noqa: BLE001 - a bad page is "nothing matched", never a crashed check
        logger.warning("cleaning report failed source=%s url=%s", source.id, url, exc_info=True)
    hits = tuple(RuleHit(kind, rule, counts[i]) for i, (kind, rule) in enumerate(rules))
    return CleaningReport(hits=hits, text_lines=text_lines)


__all__ = ["CleaningReport", "RuleHit", "cleaning_report"]
