"""Language detection: script first, langdetect with a fixed seed, hints for unsure cases, `und` for noise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawlers.extract.language import detect_language, normalize_code

REPO = Path(__file__).resolve().parents[2]
FORMAL_ZH = (
    "国务院关于印发新一代人工智能发展规划的通知。各省、自治区、直辖市人民政府，"
    "国务院各部委、各直属机构：现将《新一代人工智能发展规划》印发给你们，请认真贯彻执行。"
)
TRAD_ZH = "國家科學及技術委員會今天公布年度研究計畫審查結果，共有三千多件計畫獲得補助，較去年增加百分之五。"
SAMPLES = {
    "en": "The National Science Foundation announced new funding for quantum research centers "
    "across the country.",
    "de": "Das Bundesministerium für Bildung und Forschung fördert die Quantenforschung "
    "mit zusätzlichen Mitteln.",
    "fr": "Le ministère de l'Enseignement supérieur et de la Recherche a annoncé un nouveau plan "
    "pour les laboratoires.",
    "ja": "文部科学省は、量子技術の研究開発を推進するための新たな予算を発表しました。",
    "ko": "과학기술정보통신부는 양자 기술 연구 개발을 위한 새로운 예산을 발표했습니다.",
}


@pytest.mark.parametrize(("expected", "text"), sorted(SAMPLES.items()))
def test_detects_languages(expected: str, text: str) -> None:
    result = detect_language(text)
    assert result.code == expected
    assert 0.0 < result.confidence <= 1.0


@pytest.mark.parametrize("text", [FORMAL_ZH, TRAD_ZH])
def test_both_chinese_scripts_are_zh_never_ko(text: str) -> None:
    for _ in range(5):
        assert detect_language(text).code == "zh"


def test_english_text_with_a_few_chinese_names_is_english() -> None:
    text = (
        SAMPLES["en"] + " The centre in 深圳 will be led by 王小明 and colleagues from several universities."
    )
    assert detect_language(text).code == "en"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "12345 67890 2024-11-20",
        "https://www.example.org/a/b?c=d",
        "🎉🎉🚀🚀🔬🔬",
        "Ok.",
        "A short line",
        "!!!???",
    ],
)
def test_too_little_or_no_letters_is_und(text: str) -> None:
    result = detect_language(text)
    assert result.code == "und"
    assert result.confidence == 0.0


def test_html_lang_hint_settles_an_unsure_detection() -> None:
    # langdetect gives this pt 0.71 / es 0.29: unsure, so the page's own lang="es" decides.
    text = "Universidade nacional ciencia programa inovacao"
    assert detect_language(text).code == "pt"
    hinted = detect_language(text, html_lang="es-ES")
    assert hinted.code == "es"
    assert hinted.confidence < 0.5
    assert detect_language(text, default_language="es").code == "es"


def test_a_hint_never_overrides_a_clear_detection() -> None:
    assert detect_language(SAMPLES["de"] * 3, html_lang="en", default_language="en").code == "de"


@pytest.mark.parametrize(
    ("tag", "code"),
    [("zh-CN", "zh"), ("zh_Hant_TW", "zh"), ("en-GB", "en"), ("", None), (None, None), ("x!", None)],
)
def test_language_tags_normalise_to_iso_639_1(tag: str | None, code: str | None) -> None:
    assert normalize_code(tag) == code


def test_same_result_in_two_separate_processes() -> None:
    texts = [*SAMPLES.values(), FORMAL_ZH, TRAD_ZH, "Ein kurzer Satz über Forschung und Wissenschaft heute."]
    script = (
        "import json, sys\n"
        "from crawlers.extract.language import detect_language\n"
        "texts = json.loads(sys.stdin.read())\n"
        "print(json.dumps([[r.code, r.confidence] for r in map(detect_language, texts)]))\n"
    )
    outputs = []
    for seed in ("1", "2"):  # different hash seeds: nothing may depend on dict/set order
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps(texts),
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=120,
            check=True,
        )
        outputs.append(json.loads(proc.stdout))
    assert outputs[0] == outputs[1]
    assert [code for code, _ in outputs[0]][:5] == list(SAMPLES)
