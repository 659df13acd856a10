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
from collections.abc import Callable
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
try:
    # CPython's own regex parser and compiler (private modules, as in 3.11-3.13), for what a pattern's
    # matches can start with (`_first_char_matcher`). Where they differ, every rule is tried on every
    # line: slower, same results.
    from re import _compiler as _re_compiler  # type: ignore[attr-defined]  # (no stubs for these three)
    from re import _constants as _re_constants  # type: ignore[attr-defined]
    from re import _parser as _re_parser  # type: ignore[attr-defined]

    # Parsed-pattern opcodes, for `_first_items`.
    _ONE_CHAR = frozenset({_re_constants.LITERAL, _re_constants.NOT_LITERAL, _re_constants.IN})
    _ZERO_WIDTH = frozenset({_re_constants.AT, _re_constants.ASSERT, _re_constants.ASSERT_NOT})
    _REPEATS = frozenset({_re_constants.MAX_REPEAT, _re_constants.MIN_REPEAT, _re_constants.POSSESSIVE_REPEAT})
    _ANALYSIS = True
except (ImportError, AttributeError):  # pragma: no cover - another Python's internals
    _ANALYSIS = False
_NEVER = re.compile(r"(?!)")
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
    drop_tiers: tuple[tuple[int, tuple[LineRule, ...], Prefilter | None], ...] = field(
        default=(), repr=False
    )
    """(length bound, rules that look at lines up to that long, their prefilter: the first of them to
    accept a line, so the rules before it need no check), by bound: a body paragraph is only tried
    against the few rules written for lines as long as it. Empty when there are no rules."""
    cut_tiers: tuple[tuple[int, tuple[LineRule, ...], Prefilter | None], ...] = field(
        default=(), repr=False
    )
    """The same for end markers and teaser headings."""
    name_rules: tuple[LineRule, ...] = field(default=(), repr=False)
    """Drop-line rules with a `names` group (bylines), for byline texts found outside the article text."""

    def compile(self) -> None:
        """Prepare every prefilter now (see `Prefilter`)."""
        for _bound, _rules, prefilter in (*self.drop_tiers, *self.cut_tiers):
            if prefilter is not None:
                prefilter.compile()

    def drop_rules_for(self, length: int) -> tuple[tuple[LineRule, ...], Prefilter | None]:
        """The drop-line rules that may match a line of this length, and their prefilter."""
        return _for_length(self.drop_tiers, length)

    def cut_prefilter_for(self, length: int) -> Prefilter | None:
        """The prefilter of the end markers and teaser headings that may match a line this long."""
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
    tiers: tuple[tuple[int, tuple[LineRule, ...], Prefilter | None], ...], length: int
) -> tuple[tuple[LineRule, ...], Prefilter | None]:
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


class Prefilter:
    """Which of a tier's rules is the first to accept a line (its pattern fullmatches the line and its
    `max_len` admits it): `LineRule.match` tried rule by rule, made cheap.

    It replaces one alternation `(?P<r0>pat0)|(?P<r1>pat1)|...` of the patterns. Python's `re` tries
    every alternative of an alternation in turn, ~0.3 us each even when the line's first character
    already rules it out (25 us for 73 patterns on a 9-character line), and it tried the patterns of
    rules too short for the line. Here the rules are sorted by what their matches can start with
    (`_first_char_matcher`): for each distinct first character of a line, the rules whose pattern can
    start with it are listed once, and only those that admit the line's length are tried, in order. A
    pattern that cannot start with a line's first character cannot fullmatch the line, so the answer is
    the one of trying every rule.

    The patterns are the rules' own, compiled when the rules were loaded. Compiling the alternations
    cost ~0.25 CPU-s for the defaults (Python's regex compiler is pure Python); the analysis that
    replaces it costs ~0.04 s, done at the first use, and for the defaults once per run before workers
    are forked (`crawlers.extract.warm`). It is cached per pattern: a source's rule set only analyses
    the source's own patterns.
    """

    __slots__ = ("rules", "_compiled", "_by_first", "_shared")

    def __init__(self, rules: tuple[LineRule, ...]) -> None:
        self.rules = rules
        self._compiled: tuple[re.Pattern[str] | None, ...] | None = None
        """Per rule, its `_first_char_matcher` (once `compile` ran)."""
        self._by_first: dict[str, tuple[_Candidate, ...]] = {}
        """A line's first character ("" for the empty line) -> the rules to try."""
        self._shared: dict[tuple[int, ...], tuple[_Candidate, ...]] = {}
        """The distinct lists of rules to try, so the thousands of CJK first characters share a few."""

    def first(self, line: str) -> int | None:
        """Index of the first rule that accepts `line` (as `LineRule.match` does), None when none does."""
        first = line[:1]
        candidates = self._by_first.get(first)
        if candidates is None:
            candidates = self._candidates(first)
        length = len(line)
        for index, max_len, fullmatch in candidates:
            if length <= max_len and fullmatch(line) is not None:
                return index
        return None

    def compile(self) -> None:
        """Analyse the patterns now."""
        if self._compiled is None:
            self._compiled = tuple(_first_char_matcher(r.pattern.pattern, r.pattern.flags) for r in self.rules)

    def _candidates(self, first: str) -> tuple[_Candidate, ...]:
        """The rules whose pattern can start with `first` (every rule for the empty line), ~18 us."""
        self.compile()
        assert self._compiled is not None
        kept = tuple(
            i for i, matcher in enumerate(self._compiled) if not first or matcher is None or matcher.fullmatch(first)
        )
        candidates = self._shared.get(kept)
        if candidates is None:
            candidates = self._shared[kept] = tuple(_candidate(i, self.rules[i]) for i in kept)
        if len(self._by_first) < _FIRST_CHARS_KEPT:
            self._by_first[first] = candidates
        return candidates


_Candidate = tuple[int, int, Callable[[str], "re.Match[str] | None"]]
"""(index of the rule, its max_len, its pattern's fullmatch)"""


def _candidate(index: int, rule: LineRule) -> _Candidate:
    return index, rule.max_len if rule.max_len is not None else 2**63, rule.pattern.fullmatch


# First characters remembered per prefilter (a bound on memory, ~1 MB): Chinese lines start with a
# few thousand distinct characters at most. Beyond it the rules to try are sorted out again per line.
_FIRST_CHARS_KEPT = 4096


@lru_cache(maxsize=1024)
def _first_char_matcher(pattern: str, flags: int) -> re.Pattern[str] | None:
    """A pattern that matches every character a non-empty match of `pattern` can start with (and maybe
    others); None when that can be anything, or when the analysis does not know.

    The single-character items a match can start with (`a`, `[^x]`, `[\\w.+-]`) are taken from the
    parsed pattern and compiled as they are, with the pattern's flags, so case folding (Kelvin sign,
    long s, dotless i, final sigma...) is the regex engine's own, not a copy of it.
    """
    if not _ANALYSIS:
        return None
    try:
        parsed = _re_parser.parse(pattern, flags)
        first = _first_items(parsed)
        if first is None:
            return None
        if not first[0]:
            return _NEVER  # it only matches the empty string (or nothing): never a non-empty line
        branches = [_re_parser.SubPattern(parsed.state, [item]) for item in first[0]]
        matcher: re.Pattern[str] = _re_compiler.compile(
            _re_parser.SubPattern(parsed.state, [(_re_constants.BRANCH, (None, branches))]), flags
        )
    except Exception:  # noqa: BLE001 - internals not as expected: the rule is tried on every line
        logger.debug("no first-character analysis of %r", pattern, exc_info=True)
        return None
    return matcher


def _first_items(seq: Any) -> tuple[list[Any], bool] | None:
    """The single-character items that can consume the first character of a match of the parsed `seq`,
    and whether `seq` can match the empty string; None for "anything" (`.`, an unknown construct)."""
    items: list[Any] = []
    for op, av in seq:
        if op in _ONE_CHAR:
            items.append((op, av))
            return items, False
        if op in _ZERO_WIDTH:  # ^, \b, lookarounds: they restrict the match but consume nothing
            continue
        sub: tuple[list[Any], bool] | None
        if op is _re_constants.SUBPATTERN:
            _group, add_flags, del_flags, body = av
            if add_flags or del_flags:  # (?a:\W) matches more than \W: no reasoning about local flags
                return None
            sub = _first_items(body)
        elif op is _re_constants.ATOMIC_GROUP:
            sub = _first_items(av)
        elif op in _REPEATS:
            low, _high, body = av
            sub = _first_items(body)
            if sub is not None and low == 0:
                sub = sub[0], True
        elif op is _re_constants.BRANCH:
            sub = [], False
            for branch in av[1]:
                alternative = _first_items(branch)
                if alternative is None:
                    return None
                sub = sub[0] + alternative[0], sub[1] or alternative[1]
        else:  # `.`, backreferences, conditionals, anything this code does not know
            return None
        if sub is None:
            return None
        items.extend(sub[0])
        if not sub[1]:
            return items, False
    return items, True


def _tier_bound(tier: tuple[int, tuple[LineRule, ...], Prefilter | None]) -> int:
    return tier[0]


def _drop_tiers(
    drop: tuple[LineRule, ...],
) -> tuple[tuple[int, tuple[LineRule, ...], Prefilter | None], ...]:
    """Tiers of lines up to each bound, a bound at least double the one before (and the longest).

    A tier holds every rule a line longer than the previous bound may match (`max_len` above it), so
    for some of its lines it holds rules too short for them: the prefilter skips those. (Few tiers were
    a must when each tier was a compiled alternation: a tier per distinct `max_len`, 15 of them,
    compiled every rule ~8 times over, 1.2 CPU-s of Python's regex compiler in every run.)
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
        tiers.append((bound, rules, Prefilter(rules) if rules else None))
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
