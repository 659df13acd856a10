"""Boilerplate removal on extracted text: the rules of `ruleset.py` applied line by line.

Order matters and is fixed: furniture lines are recognised first (so a share prompt after a teaser list
does not hide the list), then the text is cut at the first end marker or teaser heading in its trailing
part, then a trailing run of headline links / truncated leads is cut, and only then are furniture lines
removed from what is kept and their bylines and dates harvested. Harvesting after the cuts keeps the
bylines of related articles out of this article's authors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from crawlers.extract.bylines import parse_field_names, parse_names
from crawlers.extract.dates import DATE_PATTERN, find_date
from crawlers.extract.ruleset import LineRule, RuleSet

# A rule limited to the trailing part also fires earlier when everything after it is short,
# headline-like lines (a short article followed by a long list of related links).
_HEADLINE_MAX = 160
_TEASER_HEADLINE_MAX = 120
_TRUNCATED = re.compile(r"(?:\.{3}|…|……)\s*$")
_SENTENCE_END = re.compile(r"[.。!！?？:：;；)）\"”']\s*$")
_ATTACHMENT = re.compile(
    r"(?:\.(?:pdf|docx?|xlsx?|pptx?|zip|rar|wps|ofd|txt|csv)\b|^\s*附件|^\s*Annex|^\s*Attachment)",
    re.IGNORECASE,
)
_WS = re.compile(r"\s+")
_BULLET = re.compile(r"^(?:[-•*·▪►]\s+)+")
# Phone / e-mail lines that continue a media-contact line (rules with `continues: true`); one line may
# hold several ("辦公室電話：… 行動電話：…").
_CONTACT_FIELD = (
    r"(?:(?:\w{0,4}(?:聯絡電話|联系电话|電話|电话|傳真|传真|手機|手机|電子郵件|电子邮件|電郵|邮箱|信箱)|Tel\.?|Phone|Fax|"
    r"E-?mail|Mobile|Telefon|Tél\.?|Courriel)\s*[:：]?\s*)?(?:[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\+?[\d(][\d\s().#/-]{6,}\d)"
    r"(?:\s*(?:#|ext\.?|分机|分機)\s*\d+)?"
)
_CONTACT_DETAIL = re.compile(rf"{_CONTACT_FIELD}(?:[\s,;|/]*{_CONTACT_FIELD})*", re.IGNORECASE)
_CONTACT_MAX = 120
# A notice closes with its signature and signing date ("科技部办公厅 / 2025年3月7日 / （此件主动公开）"):
# a bare date there is part of the document, not a publication-date line.
_BARE_DATE = re.compile(rf"\s*(?:{DATE_PATTERN})\s*", re.IGNORECASE)
_SIGNATURE_MAX = 40
_CLOSING_MAX = 20
# "中讯网北京4月2日电 （记者 孙立言）记者2日…": the reporter named inside a dateline that opens the body.
_DATELINE_REPORTER = re.compile(
    r"^.{0,40}?(?:电|電|讯|訊)\s*[（(]\s*(?:本报|本報|本刊|本台|本网|本網)?(?:特约|特約|实习|實習)?"
    r"(?:记者|記者)\s*(?P<names>[^（()）]{2,30}?)\s*[)）]"
)
HEADER_RULE = LineRule(
    kind="drop_line", name="header_block", pattern=re.compile(r"(?!)"), origin="cleaning.py"
)
"""Pseudo-rule for the title, kickers and dates around it at the top of the text."""
INLINE_TEASER_RULE = LineRule(
    kind="drop_line", name="inline_teaser_link", pattern=re.compile(r"(?!)"), origin="cleaning.py"
)
CONTACT_RULE = LineRule(
    kind="drop_line", name="contact_detail", pattern=re.compile(r"(?!)"), origin="cleaning.py"
)


def normalize_line(text: str) -> str:
    """Case- and whitespace-insensitive form used to compare lines with titles and link texts."""
    return _WS.sub(" ", text).strip().casefold()


@dataclass
class Cleaned:
    text: str
    byline_authors: list[str] = field(default_factory=list)
    """From reporter bylines ("By A and B", "记者 X"): the article's authors."""
    field_authors: list[str] = field(default_factory=list)
    """From "Author:" fields, which often name an outlet: used only when nothing better exists."""
    dates: list[date] = field(default_factory=list)
    """Dates found in removed information lines, in text order."""
    updated_dates: list[date] = field(default_factory=list)
    """Dates marked as updates ("Mis à jour le ...") in removed lines."""
    removed: list[tuple[str, str]] = field(default_factory=list)
    """(rule name, line) for every removed line or cut block (debugging and tests)."""


@dataclass
class _Line:
    text: str
    offset: int
    furniture: LineRule | None = None
    match: re.Match[str] | None = None


def _furniture(line: str, rules: RuleSet) -> tuple[LineRule, re.Match[str]] | None:
    line = _BULLET.sub("", line)
    candidates, prefilter = rules.drop_rules_for(len(line))
    first = prefilter.first(line) if prefilter is not None else None
    if first is None:
        return None  # body paragraphs: longer than anything most rules consider, or matching none
    for rule in candidates[first:]:
        m = rule.match(line)
        if m is None:
            continue
        if rule.require == "names" and not parse_names(m.groupdict().get("names")):
            continue
        if rule.require == "date" and find_date(m.groupdict().get("date") or "") is None:
            continue
        return rule, m
    return None


def byline_names(text: str, rules: RuleSet) -> list[str]:
    """Reporters named by a byline text found outside the article text ("By A and B", "作者：本报记者 X")."""
    line = _BULLET.sub("", " ".join(text.split()))
    for rule in rules.name_rules:
        m = rule.match(line)
        if m is not None:
            names = parse_names(m.groupdict().get("names"))
            if names:
                return names
    return []


def _in_tail(rule: LineRule, lines: list[_Line], index: int, total: int) -> bool:
    """Whether a trailing-part rule may fire on lines[index]."""
    if not any(ln.furniture is None for ln in lines[:index]):
        return False  # never cut the whole text
    if rule.tail is None or lines[index].offset >= (1.0 - rule.tail) * total:
        return True
    rest = [ln for ln in lines[index + 1 :] if ln.furniture is None]
    return all(
        len(ln.text) <= _HEADLINE_MAX and not _SENTENCE_END.search(ln.text) or _TRUNCATED.search(ln.text)
        for ln in rest
    )


def _first_cut(
    lines: list[_Line], rules: tuple[LineRule, ...], total: int, candidates: list[int]
) -> tuple[int, LineRule] | None:
    for i in candidates:
        ln = lines[i]
        for rule in rules:
            if rule.match(ln.text) and _in_tail(rule, lines, i, total):
                return i, rule
    return None


_LINK_SUFFIX = re.compile(
    r"\s*(?:[(（\[][^()（）\[\]]{1,30}[)）\]]|[|–—-]\s*" + DATE_PATTERN + r")\s*$", re.IGNORECASE
)
_LINK_REST_MAX = 30


def _is_link_line(text: str, link_texts: frozenset[str]) -> bool:
    """The line is a link's text, maybe with a bullet and a short "(date)" or "(programme)" after it."""
    if not link_texts or len(text) > _TEASER_HEADLINE_MAX + _LINK_REST_MAX:
        return False
    norm = normalize_line(_BULLET.sub("", text))
    if norm in link_texts or normalize_line(_LINK_SUFFIX.sub("", norm)) in link_texts:
        return True
    return False


@lru_cache(maxsize=64)
def _link_suffixes(link_texts: frozenset[str]) -> tuple[str, ...]:
    return tuple(link_texts)


def _inline_teaser(text: str, rules: RuleSet, link_texts: frozenset[str]) -> bool:
    """A "Read more / À lire aussi" label followed by a link on one line, anywhere in the text."""
    if not link_texts or len(text) > 2 * _TEASER_HEADLINE_MAX:
        return False
    norm = normalize_line(_BULLET.sub("", text))
    if not norm.endswith(_link_suffixes(link_texts)):
        return False
    for link in link_texts:
        if len(norm) > len(link) and norm.endswith(link):
            prefix = norm[: len(norm) - len(link)].strip()
            if prefix and any(rule.match(prefix) for rule in rules.teaser_headings):
                return True
    return False


def _teaser_block_start(lines: list[_Line], link_texts: frozenset[str]) -> int | None:
    """Start of a trailing run of headline links and truncated leads, if it is clearly one."""
    truncated = links = short = 0
    start: int | None = None
    next_is_truncated = False
    for i in range(len(lines) - 1, -1, -1):
        ln = lines[i]
        if ln.furniture is not None:
            continue
        text = ln.text
        if _ATTACHMENT.search(text):
            break
        if _TRUNCATED.search(text) and len(text) >= 10:
            truncated += 1
            next_is_truncated = True
        elif _is_link_line(text, link_texts):
            links += 1
            next_is_truncated = False
        elif next_is_truncated and len(text) <= _TEASER_HEADLINE_MAX and not _SENTENCE_END.search(text):
            short += 1  # a headline without a link, right above its truncated lead
            next_is_truncated = False
        else:
            break
        start = i
    if start is None or not any(ln.furniture is None for ln in lines[:start]):
        return None
    if (truncated >= 1 and truncated + links + short >= 2) or links >= 2:
        return start
    return None


def _mark_header_block(lines: list[_Line], titles: list[str], neighbours: frozenset[str]) -> None:
    """Mark the page header that trafilatura left at the top: the title and the short lines around it
    in the HTML (kicker, "Press release", date, deck). Stops at the first line that is body text."""
    wanted = {normalize_line(t) for t in titles if t and t.strip()}
    for ln in lines[:6]:
        norm = normalize_line(_BULLET.sub("", ln.text))
        if ln.furniture is not None:
            continue
        if norm in wanted:
            ln.furniture = HEADER_RULE
        elif (
            norm in neighbours and len(ln.text) <= _TEASER_HEADLINE_MAX and not _SENTENCE_END.search(ln.text)
        ):
            ln.furniture = HEADER_RULE
        else:
            break


def clean_text(
    text: str,
    rules: RuleSet,
    *,
    titles: list[str] | None = None,
    link_texts: frozenset[str] = frozenset(),
    header_texts: frozenset[str] = frozenset(),
) -> Cleaned:
    """Apply the cleaning rules to extracted text (one paragraph per line)."""
    lines: list[_Line] = []
    offset = 0
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped:
            lines.append(_Line(stripped, offset))
            offset += len(stripped) + 1
    result = Cleaned(text="")
    if not lines:
        return result
    total = max(1, lines[-1].offset + len(lines[-1].text))

    continuing = False
    for ln in lines:
        hit = _furniture(ln.text, rules)
        if hit is not None:
            ln.furniture, ln.match = hit
            continuing = hit[0].continues
        elif (
            continuing
            and len(ln.text) <= _CONTACT_MAX
            and _CONTACT_DETAIL.fullmatch(_BULLET.sub("", ln.text))
        ):
            ln.furniture = CONTACT_RULE
        else:
            continuing = False
            if _inline_teaser(ln.text, rules, link_texts):
                ln.furniture = INLINE_TEASER_RULE
    _mark_header_block(lines, titles or [], header_texts)

    candidates = []
    for i, ln in enumerate(lines):
        if ln.furniture is None:
            prefilter = rules.cut_prefilter_for(len(ln.text))
            if prefilter is not None and prefilter.first(ln.text) is not None:
                candidates.append(i)
    for rule_group in (rules.end_markers, rules.teaser_headings):
        cut = _first_cut(lines, rule_group, total, candidates)
        if cut is not None:
            candidates = [i for i in candidates if i < cut[0]]
            index, rule = cut
            result.removed.extend((rule.name, ln.text) for ln in lines[index:])
            lines = lines[:index]
    start = _teaser_block_start(lines, link_texts)
    if start is not None:
        result.removed.extend(("teaser_block", ln.text) for ln in lines[start:])
        lines = lines[:start]

    signing_date = _keep_signing_date(lines)
    kept: list[str] = []
    for ln in lines:
        furniture, m = ln.furniture, ln.match
        if furniture is None:
            kept.append(ln.text)
            continue
        result.removed.append((furniture.name, ln.text))
        if m is None:
            continue
        groups = m.groupdict()
        if groups.get("names"):
            for name in parse_names(groups["names"]):
                if name not in result.byline_authors:
                    result.byline_authors.append(name)
        if groups.get("field_names"):
            for name in parse_field_names(groups["field_names"]):
                if name not in result.field_authors:
                    result.field_authors.append(name)
        if "date" in groups or furniture.date:
            found = find_date(groups.get("date") or ("" if "date" in groups else ln.text))
            if found is None and furniture.date:
                found = find_date(ln.text)
            if found is not None:
                result.dates.append(found)
        if groups.get("updated"):
            found = find_date(groups["updated"])
            if found is not None:
                result.updated_dates.append(found)
    if signing_date is not None:
        result.dates.append(signing_date)  # after any header date: only used when nothing else dates the page
    if not result.byline_authors and kept:
        for line in kept[:2]:
            m = _DATELINE_REPORTER.match(line)
            names = parse_names(m.group("names")) if m else []
            if names:
                result.byline_authors.extend(names)
                break
    result.text = "\n".join(kept)
    return result


def _keep_signing_date(lines: list[_Line]) -> date | None:
    """Un-mark a bare date that closes the text right after a short signature line; return its date."""
    first_body = next((i for i, ln in enumerate(lines) if ln.furniture is None), None)
    if first_body is None:
        return None
    for i in range(len(lines) - 1, first_body, -1):
        ln = lines[i]
        if ln.furniture is None:
            if len(ln.text) > _CLOSING_MAX:
                return None  # prose after the date: it is not a closing date
            continue
        if not _BARE_DATE.fullmatch(ln.text):
            continue
        before = lines[i - 1]
        if before.furniture is None and len(before.text) <= _SIGNATURE_MAX and len(lines) - i <= 3:
            ln.furniture, ln.match = None, None
            return find_date(ln.text)
        return None
    return None
