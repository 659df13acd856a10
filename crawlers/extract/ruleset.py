"""Cleaning rules as data: `rules/*.yaml`, loaded once, compiled, merged with a source's additions.

The YAML files describe what each rule removes (see the header of `rules/default.yaml`). This module
turns them into compiled `LineRule`s; `cleaning.py` applies them. All files are applied to every page:
science-policy pages are often bilingual (an English release on a Chinese portal keeps `责任编辑：`), and
the patterns of different languages do not collide.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from lxml import etree

from crawlers.extract.dates import DATE_PATTERN
from schemas.sources import CleaningRules, SourceConfig

logger = logging.getLogger(__name__)

RULES_DIR = Path(__file__).with_name("rules")
RuleKind = Literal["end_marker", "teaser_heading", "drop_line"]
_KIND_KEYS: dict[str, RuleKind] = {
    "end_markers": "end_marker",
    "teaser_headings": "teaser_heading",
    "drop_lines": "drop_line",
}
# Source-added patterns get these zones: the same as the defaults' usual values.
_SOURCE_TAIL = {"end_marker": 0.6, "teaser_heading": 0.5}
_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
_SELECTOR_NAMES = re.compile(r"[.#]([\w-]+)")
_CLASS_VALUES = etree.XPath("//@class", smart_strings=False)
_ID_VALUES = etree.XPath("//@id", smart_strings=False)
# `.name`, `#name`, `tag.name`, `tag#name`: the selectors rule files are made of.
_SIMPLE_SELECTOR = re.compile(r"(?P<tag>[a-z][a-z0-9]*)?(?P<kind>[.#])(?P<name>-?[a-zA-Z_][\w-]*)")


class RulesError(ValueError):
    """Raised by `load_rules_file` when a packaged rules file is malformed (a bug in our data)."""


@dataclass(frozen=True)
class LineRule:
    kind: RuleKind
    name: str
    pattern: re.Pattern[str]
    origin: str
    """The rules file (e.g. `zh.yaml`) or `source:<id>`."""
    tail: float | None = None
    max_len: int | None = None
    date: bool = False
    require: str | None = None
    continues: bool = False
    """Contact-detail lines (phone, e-mail) right after a matching line are removed with it."""

    def match(self, line: str) -> re.Match[str] | None:
        if self.max_len is not None and len(line) > self.max_len:
            return None
        return self.pattern.fullmatch(line)


@dataclass(frozen=True)
class RuleSet:
    end_markers: tuple[LineRule, ...]
    teaser_headings: tuple[LineRule, ...]
    drop_lines: tuple[LineRule, ...]
    drop_selectors: tuple[str, ...]
    drop_xpath: etree.XPath | None
    """All drop_selectors as one compiled XPath union (None when there are none)."""
    drop_tiers: tuple[tuple[int, tuple[LineRule, ...], Alternation | None], ...] = field(
        default=(), repr=False
    )
    """(length bound, rules that look at lines up to that long, their prefilter: one alternation of
    their patterns, so a line that misses it needs no per-rule check), by bound: a body paragraph is
    only tried against the few rules written for lines as long as it. Empty when there are no rules."""
    cut_tiers: tuple[tuple[int, tuple[LineRule, ...], Alternation | None], ...] = field(
        default=(), repr=False
    )
    """The same for end markers and teaser headings."""
    name_rules: tuple[LineRule, ...] = field(default=(), repr=False)
    """Drop-line rules with a `names` group (bylines), for byline texts found outside the article text."""

    def compile(self) -> None:
        """Compile every alternation now (see `Alternation`)."""
        for _bound, _rules, alternation in (*self.drop_tiers, *self.cut_tiers):
            if alternation is not None:
                alternation.compile()

    def drop_rules_for(self, length: int) -> tuple[tuple[LineRule, ...], Alternation | None]:
        """The drop-line rules that may match a line of this length, and their combined prefilter."""
        return _for_length(self.drop_tiers, length)

    def cut_prefilter_for(self, length: int) -> Alternation | None:
        """The combined pattern of the end markers and teaser headings that may match a line this long."""
        return _for_length(self.cut_tiers, length)[1]

    def selectors_xpath(self, tree: etree._Element, html: str) -> etree.XPath | None:
        """The drop selectors that can match this page (`tree`, parsed from `html`), compiled.

        Evaluating 20+ class selectors on every element costs as much as half of trafilatura's own
        time, and most pages contain none of the names, so a selector is only kept when its names occur
        in the page. A class or id selector (`.name`, `tag#name`: every selector of our rule files) can
        only match where its name is in a class or id attribute: those values are read from the tree
        in one pass and searched, a few kilobytes instead of the whole page per name (scanning a 60 KB
        page once per name was 7 % of an extraction). Any other selector is kept when its names occur
        anywhere in the page text.
        """
        attributes: str | None = None
        present: list[str] = []
        for css, names, simple in _selector_plan(self.drop_selectors):
            if not names:
                present.append(css)
            elif simple:
                if attributes is None:
                    attributes = "\n".join(_CLASS_VALUES(tree) + _ID_VALUES(tree))
                if all(name in attributes for name in names):
                    present.append(css)
            elif all(name in html for name in names):
                present.append(css)
        return _selectors_xpath(tuple(present), "page") if present else None


def _for_length(
    tiers: tuple[tuple[int, tuple[LineRule, ...], Alternation | None], ...], length: int
) -> tuple[tuple[LineRule, ...], Alternation | None]:
    i = bisect_left(tiers, length, key=_tier_bound)
    if i == len(tiers):
        return (), None
    return tiers[i][1], tiers[i][2]


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern.replace("{DATE}", DATE_PATTERN), re.IGNORECASE)
    except re.error as exc:
        raise RulesError(f"{where}: invalid pattern {pattern!r}: {exc}") from exc


def load_rules_file(path: Path) -> tuple[list[LineRule], list[str]]:
    """Parse one rules YAML file into rules and CSS selectors."""
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise RulesError(f"{path.name}: expected a mapping")
    rules: list[LineRule] = []
    for key, kind in _KIND_KEYS.items():
        for i, raw in enumerate(data.get(key) or []):
            where = f"{path.name}: {key}[{i}]"
            if not isinstance(raw, dict) or "pattern" not in raw or "name" not in raw:
                raise RulesError(f"{where}: each rule needs a name and a pattern")
            unknown = set(raw) - {"name", "pattern", "tail", "max_len", "date", "require", "continues"}
            if unknown:
                raise RulesError(f"{where}: unknown keys {sorted(unknown)}")
            rules.append(
                LineRule(
                    kind=kind,
                    name=str(raw["name"]),
                    pattern=_compile(str(raw["pattern"]), where),
                    origin=path.name,
                    tail=float(raw["tail"]) if "tail" in raw else (None if kind == "drop_line" else 0.5),
                    max_len=int(raw["max_len"]) if "max_len" in raw else None,
                    date=bool(raw.get("date", False)),
                    require=raw.get("require"),
                    continues=bool(raw.get("continues", False)),
                )
            )
    selectors = [str(s) for s in data.get("drop_selectors") or []]
    return rules, selectors


def _rule_files() -> list[Path]:
    files = sorted(RULES_DIR.glob("*.yaml"))
    # default.yaml first: its byline rules must win over language files' broader ones.
    return sorted(files, key=lambda p: (p.name != "default.yaml", p.name))


@lru_cache(maxsize=1)
def _default_rules() -> tuple[tuple[LineRule, ...], tuple[str, ...]]:
    rules: list[LineRule] = []
    selectors: list[str] = []
    for path in _rule_files():
        file_rules, file_selectors = load_rules_file(path)
        rules.extend(file_rules)
        selectors.extend(file_selectors)
    return tuple(rules), tuple(selectors)


@lru_cache(maxsize=64)
def _selector_plan(selectors: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...], bool], ...]:
    """Per selector: its class/id names, and whether it is a plain class or id selector."""
    return tuple((css, tuple(_SELECTOR_NAMES.findall(css)), _simple_selector_xpath(css) is not None)
                 for css in selectors)


def _simple_selector_xpath(css: str) -> str | None:
    """A class or id selector as XPath over the attribute axis, None for anything else.

    cssselect writes `.share` as a predicate tested on every element; libxml2 evaluates the attribute
    form (`//@class[...]/..`) several times faster, and it selects the same elements in the same order.
    """
    m = _SIMPLE_SELECTOR.fullmatch(css.strip())
    if m is None:
        return None
    name, tag = m["name"], m["tag"]
    parent = f"parent::{tag}" if tag else ".."
    if m["kind"] == "#":
        return f"//@id[. = '{name}']/{parent}"
    return f"//@class[contains(., '{name}') and contains(concat(' ', normalize-space(.), ' '), ' {name} ')]/{parent}"


@lru_cache(maxsize=512)
def _selectors_xpath(selectors: tuple[str, ...], origin: str) -> etree.XPath | None:
    from cssselect import GenericTranslator, SelectorError

    translator = GenericTranslator()
    parts: list[str] = []
    for css in selectors:
        simple = _simple_selector_xpath(css)
        if simple is not None:
            parts.append(simple)
            continue
        try:
            parts.append(translator.css_to_xpath(css))
        except SelectorError:
            # A bad selector in a source file must not stop extraction; the load-time check is theirs.
            logger.warning("ignoring invalid CSS selector %r from %s", css, origin)
    if not parts:
        return None
    return etree.XPath(" | ".join(parts))


class Alternation:
    """One alternation of rule patterns, compiled at its first use and shared by every rule set that
    has the same patterns.

    A rule set holds ~30 of them (one per length tier, for drop lines and for cuts). Compiling all of
    them cost ~0.9 CPU-s (Python's regex compiler is pure Python), which was paid in every extraction
    worker and again for every source (bench profile: 4.7 % of an ingest). Now a source's own rules
    are compiled when first met, and the defaults once per run, before workers are forked
    (`crawlers.extract.warm`).
    """

    __slots__ = ("patterns", "_compiled")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self._compiled: re.Pattern[str] | None = None

    def fullmatch(self, line: str) -> re.Match[str] | None:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = _compile_alternation(self.patterns)
        return compiled.fullmatch(line)

    def compile(self) -> None:
        if self._compiled is None:
            self._compiled = _compile_alternation(self.patterns)


@lru_cache(maxsize=256)
def _compile_alternation(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?P<r{i}>{a})" for i, a in enumerate(patterns)), re.IGNORECASE)


def _prefilter(rules: tuple[LineRule, ...]) -> Alternation | None:
    """One alternation of the rules' patterns; group `r<i>` names the first alternative that matched,
    so a line is matched once and only that rule (and the ones after it) need trying."""
    if not rules:
        return None
    # Python forbids repeated group names inside one pattern: drop the rules' own names here.
    return Alternation(tuple(_NAMED_GROUP.sub("(?:", r.pattern.pattern) for r in rules))


def first_alternative(m: re.Match[str]) -> int:
    """Index of the rule whose alternative matched in a `_prefilter` match."""
    return int(m.lastgroup[1:]) if m.lastgroup else 0


def _tier_bound(tier: tuple[int, tuple[LineRule, ...], Alternation | None]) -> int:
    return tier[0]


def _drop_tiers(
    drop: tuple[LineRule, ...],
) -> tuple[tuple[int, tuple[LineRule, ...], Alternation | None], ...]:
    """Tiers of lines up to each bound, a bound at least double the one before (and the longest).

    A tier holds every rule a line longer than the previous bound may match (`max_len` above it), so
    for some of its lines it holds rules too short for them: the prefilter lets those lines through
    and `LineRule.match`, which checks `max_len`, turns them down. A tier per distinct `max_len` (15 of
    them) compiled every rule ~8 times over: 1.2 CPU-s of Python's regex compiler in every run, more
    than all the matching it saved.
    """
    unbounded = 10**9
    bounds = sorted({r.max_len if r.max_len is not None else unbounded for r in drop})
    kept: list[int] = []
    for bound in bounds:
        if not kept or bound >= 2 * kept[-1] or bound == bounds[-1]:
            kept.append(bound)
    tiers = []
    previous = 0
    for bound in kept:
        # Order kept: the first matching rule in file order still wins.
        rules = tuple(r for r in drop if r.max_len is None or r.max_len > previous)
        tiers.append((bound, rules, _prefilter(rules)))
        previous = bound
    return tuple(tiers)


@lru_cache(maxsize=256)
def _build(
    source_key: str,
    extra_drop: tuple[str, ...],
    extra_end: tuple[str, ...],
    extra_teaser: tuple[str, ...],
    extra_selectors: tuple[str, ...],
) -> RuleSet:
    defaults, default_selectors = _default_rules()
    origin = f"source:{source_key}"
    added: list[LineRule] = []
    extras: tuple[tuple[RuleKind, tuple[str, ...]], ...] = (
        ("drop_line", extra_drop),
        ("end_marker", extra_end),
        ("teaser_heading", extra_teaser),
    )
    for kind, patterns in extras:
        for p in patterns:
            try:
                compiled = re.compile(p.replace("{DATE}", DATE_PATTERN), re.IGNORECASE)
            except re.error:
                logger.warning("ignoring invalid %s pattern %r from %s", kind, p, origin)
                continue
            added.append(
                LineRule(
                    kind=kind,
                    name=f"{origin}:{kind}",
                    pattern=compiled,
                    origin=origin,
                    tail=_SOURCE_TAIL.get(kind),
                )
            )
    # A source's own patterns come first: they are more specific than the defaults.
    every = (*added, *defaults)
    drop = tuple(r for r in every if r.kind == "drop_line")
    selectors = (*default_selectors, *extra_selectors)
    return RuleSet(
        drop_tiers=_drop_tiers(drop),
        cut_tiers=_drop_tiers(tuple(r for r in every if r.kind != "drop_line")),
        name_rules=tuple(r for r in drop if "(?P<names>" in r.pattern.pattern),
        end_markers=tuple(r for r in every if r.kind == "end_marker"),
        teaser_headings=tuple(r for r in every if r.kind == "teaser_heading"),
        drop_lines=drop,
        drop_selectors=selectors,
        drop_xpath=_selectors_xpath(selectors, origin),
    )


def rules_for(source: SourceConfig | None = None, cleaning: CleaningRules | None = None) -> RuleSet:
    """The compiled rules for a source: the defaults plus `source.cleaning` (cached per distinct rules)."""
    rules = cleaning if cleaning is not None else (source.cleaning if source is not None else None)
    extras = (
        (tuple(rules.drop_line_patterns), tuple(rules.end_markers), tuple(rules.teaser_headings),
         tuple(rules.drop_selectors))
        if rules is not None
        else ((), (), (), ())
    )
    if not any(extras):
        # The source key only names a source's own rules in warnings: sources without any share one set.
        return _build("default", *extras)
    return _build(source.id if source is not None else "adhoc", *extras)
