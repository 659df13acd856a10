"""Bytes to text before trafilatura: declarations in precedence order, checked against the body."""

from __future__ import annotations

import codecs

import pytest

from crawlers.extract.decode import decode_html, normalize_encoding

ZH = (
    "科技部火炬中心通报了2021年国家高新区综合评价结果，深圳高新区排名第二。"
    "其中，综合质量和持续创新排名第一，创新能力和创业活跃度排名第二。"
)
ZH_TW = "國家科學及技術委員會今天公布年度研究計畫審查結果，共有三千多件計畫獲得補助，較去年增加百分之五。"
FR = (
    "Le ministère de l'Enseignement supérieur a annoncé une hausse du budget "
    "consacré à la recherche publique."
)


def page(body: str, head: str = "") -> str:
    return (
        f"<!DOCTYPE html><html><head>{head}<title>t</title></head>"
        f"<body><article><p>{body}</p></article></body></html>"
    )


def test_gbk_page_without_any_declaration_decodes_as_chinese() -> None:
    body = page(ZH).encode("gbk")
    decoded = decode_html(body)
    assert ZH in decoded.text
    assert decoded.encoding == "gb18030"


def test_big5_page_without_any_declaration_decodes_as_traditional_chinese() -> None:
    decoded = decode_html(page(ZH_TW).encode("big5"))
    assert ZH_TW in decoded.text


def test_header_charset_wins_over_meta_charset() -> None:
    body = page(FR, '<meta charset="utf-8">').encode("cp1252")
    decoded = decode_html(body, {"content-type": "text/html; charset=windows-1252"})
    assert FR in decoded.text
    assert decoded.method == "header"


def test_meta_charset_is_used_when_the_header_has_none() -> None:
    body = page(ZH, '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">').encode("gbk")
    decoded = decode_html(body, {"content-type": "text/html"})
    assert ZH in decoded.text
    assert decoded.method == "meta"


def test_gb2312_label_decodes_gbk_only_characters() -> None:
    # 镕 and 堃 are GBK but not GB2312: a strict gb2312 decoder would fail on them.
    text = ZH + "朱镕基，王堃"
    body = page(text, '<meta charset="gb2312">').encode("gbk")
    assert text in decode_html(body).text


def test_bom_wins_over_meta_when_there_is_no_header() -> None:
    body = codecs.BOM_UTF8 + page(ZH, '<meta charset="iso-8859-1">').encode("utf-8")
    decoded = decode_html(body)
    assert ZH in decoded.text
    assert decoded.method == "bom"
    assert not decoded.text.startswith("\ufeff")


def test_utf16_page_with_bom_decodes() -> None:
    body = codecs.BOM_UTF16_LE + page(ZH).encode("utf-16-le")
    assert ZH in decode_html(body).text


def test_gbk_served_as_utf8_is_not_mojibake() -> None:
    body = page(ZH).encode("gbk")
    decoded = decode_html(body, {"content-type": "text/html; charset=utf-8"})
    assert ZH in decoded.text


def test_big5_served_as_latin1_is_not_mojibake() -> None:
    body = page(ZH_TW).encode("big5")
    decoded = decode_html(body, {"content-type": "text/html; charset=iso-8859-1"})
    assert ZH_TW in decoded.text


def test_utf8_body_declared_gb2312_is_read_as_utf8() -> None:
    body = page(ZH, '<meta charset="gb2312">').encode("utf-8")
    assert ZH in decode_html(body).text


def test_latin1_label_means_cp1252_so_curly_quotes_survive() -> None:
    text = "The “Horizon” programme’s budget — €95bn"
    body = page(text).encode("cp1252")
    decoded = decode_html(body, {"content-type": "text/html; charset=ISO-8859-1"})
    assert text in decoded.text


def test_real_latin1_french_page_is_not_mistaken_for_cjk() -> None:
    text = FR + " Élèves, études, été, crédits, façade, à côté."
    decoded = decode_html(page(text).encode("cp1252"), {"content-type": "text/html; charset=iso-8859-1"})
    assert text in decoded.text


def test_utf8_page_with_one_stray_byte_stays_utf8() -> None:
    body = page(ZH + " Zürich").encode("utf-8").replace(b"</p>", b"\xff</p>")
    decoded = decode_html(body)
    assert ZH in decoded.text and "Zürich" in decoded.text


def test_undecodable_garbage_never_raises() -> None:
    decoded = decode_html(bytes(range(256)) * 20, {"content-type": "text/html; charset=x-unknown-thing"})
    assert isinstance(decoded.text, str)


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("big5", "big5hkscs"),
        ("ISO-8859-1", "cp1252"),
        ("latin-1", "cp1252"),
        ("utf8", "utf-8"),
        ("no-such-charset", None),
        ("", None),
    ],
)
def test_declared_labels_map_to_superset_codecs(label: str, codec: str | None) -> None:
    assert normalize_encoding(label) == codec
