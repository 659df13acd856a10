"""The cleaning rules' prefilter (`ruleset.Prefilter`) answers exactly what trying every rule answers.

It only tries the rules whose pattern can start with a line's first character, from an analysis of the
parsed patterns: if that analysis wrongly ruled a pattern out, lines would silently keep their furniture.
So the prefilter is compared with trying every rule (and with the one big alternation it replaced) on
lines each rule's own pattern matches, in many cases and foldings, and on the text of the golden pages.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import replace
from functools import cache
from pathlib import Path
from re import _compiler as _re_compiler  # type: ignore[attr-defined]
from re import _constants as _re_constants  # type: ignore[attr-defined]
from re import _parser as _re_parser  # type: ignore[attr-defined]
from typing import Any

import pytest
from lxml import html

from crawlers.extract import ruleset
from crawlers.extract.ruleset import LineRule, Prefilter, _first_char_matcher, _rule_files, load_rules_file
from tests.crawlers.test_extract_rules import CASES

FIXTURES = Path(__file__).parents[1] / "fixtures"
DEFAULT_RULES = tuple(rule for path in _rule_files() for rule in load_rules_file(path)[0])
# Characters the sampled lines are made of where a pattern allows a choice: ASCII, the whitespace and
# punctuation of CJK and European text, and the letters whose case folding is unusual.
POOL = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;!?-_/|#*'\"()[]{}@+=~&%"
    "\t\u00a0\u2003\u3000，。：；！？、【】（）「」“”‘’—–·•▪©®"
    "àâçéèêëîïôûüÀÉÖÜßẞſıİÅΣσςµμΩ\u212a\u212b\u2126"  # the last three: Kelvin, Angstrom and Ohm signs
    "的新闻发布来源作者记者编辑本网图片时间日期全文完相关阅读"
)
# Case variants of a line that fold to the same text for `re.IGNORECASE` (Kelvin sign, long s, dotless
# and dotted i, final sigma...).
FOLDINGS = (str.upper, str.lower, str.swapcase, str.title,
            lambda s: s.replace("k", "\u212a").replace("s", "ſ").replace("i", "ı").replace("I", "İ"),
            lambda s: s.replace("K", "\u212a").replace("S", "ſ").replace("σ", "ς").replace("ß", "ẞ"))


def _single(item: tuple[Any, Any], flags: int) -> re.Pattern[str]:
    """One parsed single-character item (`[\\w.]`, `[^x]`) compiled on its own."""
    state = _re_parser.State()
    compiled: re.Pattern[str] = _re_compiler.compile(_re_parser.SubPattern(state, [item]), flags)
    return compiled


@cache
def _pool_for(op: Any, av: Any, flags: int) -> tuple[str, ...]:
    matcher = _single((op, av), flags)
    return tuple(c for c in POOL if matcher.fullmatch(c))


def _sample(seq: Any, flags: int, rng: random.Random, out: list[str]) -> None:
    """Append to `out` a random string shaped like the parsed `seq` (lookarounds are left to chance)."""
    for op, av in seq:
        if op is _re_constants.LITERAL:
            out.append(chr(av))
        elif op in (_re_constants.NOT_LITERAL, _re_constants.IN):
            choices = _pool_for(op, tuple(av) if isinstance(av, list) else av, flags)
            out.append(rng.choice(choices) if choices else "x")
        elif op is _re_constants.ANY:
            out.append(rng.choice(POOL))
        elif op in (_re_constants.MAX_REPEAT, _re_constants.MIN_REPEAT, _re_constants.POSSESSIVE_REPEAT):
            low, high, body = av
            for _ in range(rng.randint(low, min(high, low + 3))):
                _sample(body, flags, rng, out)
        elif op is _re_constants.BRANCH:
            _sample(rng.choice(av[1]), flags, rng, out)
        elif op is _re_constants.SUBPATTERN:
            _sample(av[3], flags, rng, out)
        elif op is _re_constants.ATOMIC_GROUP:
            _sample(av, flags, rng, out)


@cache
def _matching_lines(rule: LineRule) -> tuple[str, ...]:
    """Lines the rule's own pattern fullmatches: its test case, random strings shaped like the pattern,
    and their case variants and foldings."""
    rng = random.Random(rule.name)
    parsed = _re_parser.parse(rule.pattern.pattern, rule.pattern.flags)
    lines: set[str] = {CASES[rule.name][0]} if rule.name in CASES else set()
    for _ in range(60):
        out: list[str] = []
        _sample(parsed, rule.pattern.flags, rng, out)
        lines.add("".join(out))
    lines |= {fold(line) for line in list(lines) for fold in FOLDINGS}
    return tuple(sorted(line for line in lines if rule.pattern.fullmatch(line)))


def _at_the_limit(rule: LineRule) -> set[str]:
    """Lines the rule's pattern fullmatches that are `max_len` and `max_len + 1` characters long."""
    if rule.max_len is None:
        return set()
    padded = (
        line[:length] if len(line) >= length else line + line[-1] * (length - len(line))
        for line in _matching_lines(rule)[:20]
        for length in (rule.max_len, rule.max_len + 1)
    )
    return {line for line in padded if rule.pattern.fullmatch(line)}


def _fixture_lines() -> list[str]:
    """Text lines of the golden pages (furniture included: nothing is cleaned) and their expectations."""
    lines: set[str] = set()
    for raw in sorted(FIXTURES.rglob("raw.html.gz")):
        tree = html.document_fromstring(gzip.decompress(raw.read_bytes()))
        for text in tree.body.itertext() if tree.body is not None else ():
            lines.update(line.strip() for line in text.splitlines() if line.strip())
        expected = json.loads((raw.parent / "expected.json").read_text(encoding="utf-8"))
        lines.update(expected.get("must_contain") or ())
        lines.update(expected.get("must_not_contain") or ())
    for positive, negative in CASES.values():
        lines.update((positive, negative))
    return sorted(lines)


def _all_lines() -> list[str]:
    lines = set(_fixture_lines())
    for rule in DEFAULT_RULES:
        lines.update(_matching_lines(rule))
        lines.update(_at_the_limit(rule))
    return sorted(lines)


def _first_accepting(rules: tuple[LineRule, ...], line: str) -> int | None:
    """What the prefilter stands for: every rule tried in order."""
    return next((i for i, rule in enumerate(rules) if rule.match(line)), None)


def _alternation(rules: tuple[LineRule, ...]) -> re.Pattern[str]:
    """The single alternation the prefilter replaced (rule names dropped: they repeat)."""
    patterns = (re.sub(r"\(\?P<\w+>", "(?:", rule.pattern.pattern) for rule in rules)
    return re.compile("|".join(f"(?P<r{i}>{p})" for i, p in enumerate(patterns)), re.IGNORECASE)


def _tiers() -> list[tuple[LineRule, ...]]:
    rules = ruleset.rules_for()
    return [tier_rules for _bound, tier_rules, _prefilter in (*rules.drop_tiers, *rules.cut_tiers)]


@pytest.mark.parametrize("rule", DEFAULT_RULES, ids=lambda r: r.name)
def test_every_line_a_rule_matches_gets_past_the_first_character_analysis(rule: LineRule) -> None:
    lines = _matching_lines(rule)
    if _first_char_matcher(rule.pattern.pattern, rule.pattern.flags) is not None:
        assert len(lines) >= 3, "too few sampled lines to check this rule's analysis"
    alone = Prefilter((replace(rule, max_len=None),))
    assert [line for line in lines if alone.first(line) != 0] == []


def test_the_prefilter_of_every_tier_answers_what_trying_every_rule_answers() -> None:
    lines = _all_lines()
    assert len(lines) > 3000
    rules = ruleset.rules_for()
    tiers = {id(prefilter): (prefilter, tier) for _b, tier, prefilter in (*rules.drop_tiers, *rules.cut_tiers)}
    checked = {key: 0 for key in tiers}
    for line in lines:  # against the tiers cleaning asks for a line this long
        for prefilter in (rules.drop_rules_for(len(line))[1], rules.cut_prefilter_for(len(line))):
            if prefilter is not None:
                assert prefilter.first(line) == _first_accepting(tiers[id(prefilter)][1], line), line
                checked[id(prefilter)] += 1
    assert min(checked.values()) > 100


def test_without_length_limits_the_prefilter_answers_what_the_alternation_answered() -> None:
    lines = _all_lines()
    by_kind = (
        tuple(r for r in DEFAULT_RULES if r.kind == "drop_line"),
        tuple(r for r in DEFAULT_RULES if r.kind != "drop_line"),
    )
    found = 0
    for rules in by_kind:
        prefilter = Prefilter(tuple(replace(rule, max_len=None) for rule in rules))
        alternation = _alternation(rules)
        for line in lines:
            m = alternation.fullmatch(line)
            expected = int(m.lastgroup[1:]) if m is not None and m.lastgroup else None
            assert prefilter.first(line) == expected, line
            found += expected is not None
    assert found > 1000


def test_the_lines_catch_a_first_character_analysis_that_rules_out_too_much(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Guard on the tests above: with an analysis that says every pattern starts with "x" they fail."""
    monkeypatch.setattr(ruleset, "_first_char_matcher", lambda pattern, flags: re.compile("x"))
    lines = _all_lines()
    for rules in _tiers():
        prefilter = Prefilter(rules)
        assert any(prefilter.first(line) != _first_accepting(rules, line) for line in lines)


@pytest.mark.parametrize(
    ("pattern", "starts", "never"),
    [
        (r"abc", "aA", "bx "),
        (r"\s*[-—]+\s*END", "-— \t\u3000\u2003", "xNE"),
        (r"(?:By\s+)?(?:Our|By\s+our)\s+x", "bBoO", "sx"),
        (r"[\W_]*Related", "rR_-【 ", "ex1"),
        (r"(?:a|)b?(?=z)c*d+", "abcd", "zx"),
        (r"\d{0}x", "x", "y"),
        (r"(?>a|b)c", "ab", "c"),
        (r"(?:(a)|b)(?(1)c|d)", "ab", "cd"),  # a conditional after the first character is no matter
        (r"k", "kK\u212a", "x"),  # Kelvin sign
        (r"s", "sSſ", "x"),  # long s
        (r"i", "iIıİ", "x"),  # dotless and dotted i
        (r"σ", "σΣς", "x"),  # final sigma
        (r"ß", "ßẞ", "s"),
        (r"µ", "µμΜ", "x"),  # micro sign and mu
        (r"全文完", "全", "文完"),
    ],
)
def test_the_first_characters_of_a_pattern(pattern: str, starts: str, never: str) -> None:
    matcher = _first_char_matcher(pattern, re.compile(pattern, re.IGNORECASE).flags)
    assert matcher is not None
    assert [c for c in starts if not matcher.fullmatch(c)] == []
    assert [c for c in never if matcher.fullmatch(c)] == []


@pytest.mark.parametrize(
    "pattern",
    [
        r".{0,60}©",  # `.`
        r"(?a:\W)x",  # local flags: not reasoned about
        r"(?i:q)",
        r"(a)?\1b",  # a backreference where the match may start
    ],
)
def test_a_pattern_that_may_start_with_anything_is_always_tried(pattern: str) -> None:
    assert _first_char_matcher(pattern, re.compile(pattern, re.IGNORECASE).flags) is None


def test_a_pattern_that_only_matches_the_empty_line_is_never_tried_on_others() -> None:
    rule = replace(DEFAULT_RULES[0], pattern=re.compile(r"(?:)|(?=x)", re.IGNORECASE), max_len=None)
    prefilter = Prefilter((rule,))
    assert prefilter.first("") == 0
    assert prefilter.first("x") is None
