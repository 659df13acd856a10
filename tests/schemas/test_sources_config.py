from __future__ import annotations

from pathlib import Path

import pytest

from schemas import SourceConfigError, load_sources, parse_sources

ROOT = Path(__file__).resolve().parents[2]


def _one(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"id": "gov_notices", "name": "Gov notices", "feeds": ["https://gov.example/rss.xml"]}
    base.update(fields)
    return {"sources": [base]}


def test_the_bundled_production_sources_file_is_valid() -> None:
    sources = load_sources(ROOT / "sources.yaml")
    assert len(sources) >= 8
    assert {s.default_language for s in sources} >= {"en", "zh", "de", "fr"}
    assert all(s.allow_private_addresses is False for s in sources)


def test_the_demo_sources_file_is_valid_once_the_address_is_filled_in() -> None:
    import yaml

    text = (ROOT / "flows" / "demo" / "sources.yaml").read_text().replace("__BASE_URL__", "http://127.0.0.1:8765")
    sources = parse_sources(yaml.safe_load(text))
    assert sources and all(s.allow_private_addresses for s in sources)


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"feeds": ["file:///etc/passwd"]}, "feeds"),
        ({"feeds": ["javascript:alert(1)"]}, "feeds"),
        ({"feeds": ["https://user:secret@gov.example/rss"]}, "feeds"),
        ({"feeds": ["https://gov.example/rss\r\nX-Injected: 1"]}, "feeds"),
        ({"sitemaps": ["ftp://gov.example/sitemap.xml"]}, "sitemaps"),
        ({"id": "Bad-Id"}, "id"),
        ({"download_delay": -1}, "download_delay"),
        ({"cleaning": {"end_markers": ["(unclosed"]}}, "cleaning.end_markers"),
        ({"listing_pages": [{"url": "data:text/html,hi"}]}, "listing_pages.0.url"),
        ({"unknown_key": 1}, "unknown_key"),
    ],
)
def test_a_hostile_or_broken_source_is_refused_with_the_source_and_field_named(
    fields: dict[str, object], field_name: str
) -> None:
    with pytest.raises(SourceConfigError) as info:
        parse_sources(_one(**fields), path="sources.yaml")
    message = str(info.value)
    assert "sources.yaml" in message
    assert field_name in message
    assert info.value.field is not None and info.value.field.startswith(field_name.split(".")[0])
    assert "secret" not in message


def test_a_source_without_entry_points_is_refused() -> None:
    with pytest.raises(SourceConfigError, match="feeds, sitemaps or listing_pages"):
        parse_sources({"sources": [{"id": "empty_src", "name": "x"}]})


def test_duplicate_ids_are_refused() -> None:
    data = _one()
    data["sources"] = [data["sources"][0], data["sources"][0]]  # type: ignore[index]
    with pytest.raises(SourceConfigError, match="duplicate source id"):
        parse_sources(data)


def test_yaml_python_tags_are_never_executed(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  - !!python/object/apply:os.system ['touch {canary}']\n")
    with pytest.raises(SourceConfigError, match="invalid YAML"):
        load_sources(path)
    assert not canary.exists()


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - id: a\n   name: [unclosed\n")
    with pytest.raises(SourceConfigError, match=r"line \d+"):
        load_sources(path)


def test_effective_domains_default_to_the_entry_point_hosts() -> None:
    (src,) = parse_sources(_one(sitemaps=["https://News.Gov.example/sitemap.xml"]))
    assert src.effective_domains() == ["gov.example", "news.gov.example"]
