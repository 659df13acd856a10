"""Readable differences between two versions of an article: word by word, character by character for
Chinese, Japanese and Korean (no spaces to find words by).

`diff(old, new)` gives a list of `DiffOp`; `render_plain` shows it as `[-removed-]{+added+}` (the
convention of `git diff --word-diff=plain`), `render_ansi` in colour for a terminal. Long unchanged
stretches can be shortened to their first and last words (`context`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

OpName = Literal["equal", "delete", "insert", "replace"]

_CJK_RANGES = (
    r"\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    r"\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
)
# One CJK character, a run of other word characters, a run of whitespace, or one other character.
_TOKEN = re.compile(rf"[{_CJK_RANGES}]|[^\s{_CJK_RANGES}\W]+|\s+|[^\s]", re.UNICODE)
ELLIPSIS = " … "

_RED, _GREEN, _DIM, _RESET = "\x1b[31m", "\x1b[32m", "\x1b[2m", "\x1b[0m"
_STRIKE = "\x1b[9m"


@dataclass(frozen=True)
class DiffOp:
    op: OpName
    old: str
    """The text of the old version this op covers ("" for inserts)."""
    new: str
    """The text of the new version ("" for deletes)."""

    def as_dict(self) -> dict[str, str]:
        return {"op": self.op, "old": self.old, "new": self.new}


def tokens(text: str) -> list[str]:
    """Words, single CJK characters, whitespace runs and punctuation; joined they give `text` back."""
    return _TOKEN.findall(text)


def diff(old: str, new: str) -> list[DiffOp]:
    """The changes from `old` to `new`, token by token, adjacent ops of the same kind merged."""
    a, b = tokens(old), tokens(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    ops: list[DiffOp] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        ops.append(DiffOp(tag, "".join(a[i1:i2]), "".join(b[j1:j2])))  # type: ignore[arg-type]
    return _tidy(ops)


def _tidy(ops: list[DiffOp]) -> list[DiffOp]:
    """Fold a lone space between two changes into them, so "a b" -> "c d" reads as one replacement."""
    out: list[DiffOp] = []
    for op in ops:
        if (
            op.op != "equal"
            and len(out) >= 2
            and out[-2].op != "equal"
            and out[-1].op == "equal"
            and out[-1].old.isspace()
        ):
            space, prev = out.pop(), out.pop()
            op = DiffOp("replace", prev.old + space.old + op.old, prev.new + space.new + op.new)
        if out and out[-1].op != "equal" and op.op != "equal":
            prev = out.pop()
            op = DiffOp("replace", prev.old + op.old, prev.new + op.new)
        if op.op == "replace" and not op.old:
            op = DiffOp("insert", "", op.new)
        elif op.op == "replace" and not op.new:
            op = DiffOp("delete", op.old, "")
        out.append(op)
    return out


def changed(ops: list[DiffOp]) -> bool:
    return any(op.op != "equal" for op in ops)


def counts(ops: list[DiffOp]) -> dict[str, int]:
    """Characters removed and added, and how many places changed."""
    return {
        "removed_chars": sum(len(op.old) for op in ops if op.op != "equal"),
        "added_chars": sum(len(op.new) for op in ops if op.op != "equal"),
        "changes": sum(1 for op in ops if op.op != "equal"),
    }


def _shorten(text: str, context: int | None, first: bool, last: bool) -> str:
    """An unchanged stretch cut to about `context` characters next to each change (None: keep all),
    at a space when there is one near the cut so words stay whole."""
    if context is None:
        return text
    head = 0 if first else context
    tail = 0 if last else context
    if len(text) <= head + tail + len(ELLIPSIS):
        return text
    if head:
        space = text.find(" ", head, len(text) - tail)
        head = space if space >= 0 and space - head < context else head
    start = len(text) - tail
    if tail:
        space = text.rfind(" ", head, start)
        start = space + 1 if space >= 0 and start - space < context else start
    marker = ELLIPSIS.strip() + " " if first else (" " + ELLIPSIS.strip() if last else ELLIPSIS)
    return text[:head] + marker + text[start:]


def render_plain(ops: list[DiffOp], *, context: int | None = None) -> str:
    """`[-removed-]{+added+}` markers, unchanged text kept (or shortened to `context` characters)."""
    parts: list[str] = []
    for i, op in enumerate(ops):
        if op.op == "equal":
            parts.append(_shorten(op.old, context, i == 0, i == len(ops) - 1))
            continue
        if op.old:
            parts.append(f"[-{op.old}-]")
        if op.new:
            parts.append(f"{{+{op.new}+}}")
    return "".join(parts)


def render_ansi(ops: list[DiffOp], *, context: int | None = None) -> str:
    """Removed text red and struck through, added text green, shortened stretches dimmed."""
    parts: list[str] = []
    for i, op in enumerate(ops):
        if op.op == "equal":
            shown = _shorten(op.old, context, i == 0, i == len(ops) - 1)
            parts.append(shown.replace(ELLIPSIS.strip(), f"{_DIM}{ELLIPSIS.strip()}{_RESET}"))
            continue
        if op.old:
            parts.append(f"{_RED}{_STRIKE}{op.old}{_RESET}")
        if op.new:
            parts.append(f"{_GREEN}{op.new}{_RESET}")
    return "".join(parts)
