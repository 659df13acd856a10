"""Stored bodies: `pack_body` writes the zlib format, whichever deflate library is installed."""

from __future__ import annotations

import random
import zlib

import pytest

from storage import precompute
from storage.precompute import BODY_COMPRESSION, pack_body

_PAGE = ("<html><head><title>Funding call</title></head><body>"
         + "".join(f"<p>Paragraph {n}: the ministry opens a call for proposals in {2020 + n % 7}.</p>"
                   for n in range(2000))
         + "</body></html>").encode()


@pytest.mark.parametrize("body", [
    b"",
    b"x",
    _PAGE,
    "<p>科技部发布重点研发计划申报指南，鼓励高校和科研院所积极申报。</p>".encode("gb18030") * 500,
    random.Random(7).randbytes(200_000),  # incompressible: stored larger than it came, still whole
], ids=["empty", "one-byte", "html", "gb18030", "random"])
def test_a_packed_body_is_read_back_by_zlib(body: bytes) -> None:
    packed = pack_body(body)
    assert BODY_COMPRESSION == "zlib"
    assert packed[:1] == b"\x78"  # a zlib stream header (deflate, 32 KB window), not gzip or raw deflate
    assert zlib.decompress(packed) == body


def test_html_is_compressed() -> None:
    assert len(pack_body(_PAGE)) * 5 < len(_PAGE)


def test_the_fast_deflate_is_in_use() -> None:
    # isal is a dependency (pyproject.toml): without it every body costs ~4x the CPU, silently.
    assert precompute._deflate is not zlib  # noqa: SLF001
    assert precompute._deflate.__name__ == "isal.isal_zlib"  # noqa: SLF001
