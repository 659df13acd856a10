"""docs/sources.md documents every key of a source and of its cleaning rules (docs that can drift are tested)."""

from __future__ import annotations

import re
from pathlib import Path

from schemas import CleaningRules, SourceConfig

DOC = (Path(__file__).resolve().parents[2] / "docs" / "sources.md").read_text(encoding="utf-8")


def _documented_keys() -> set[str]:
    return set(re.findall(r"^\| `([a-z_]+)` \|", DOC, flags=re.MULTILINE))


def test_every_source_key_is_documented() -> None:
    assert set(SourceConfig.model_fields) - _documented_keys() == set()


def test_every_cleaning_key_is_documented() -> None:
    assert set(CleaningRules.model_fields) - _documented_keys() == set()


def test_the_doc_names_no_key_that_does_not_exist() -> None:
    assert _documented_keys() - set(SourceConfig.model_fields) - set(CleaningRules.model_fields) == set()
