"""Import Scrapy's TLS modules without paying for `inspect.stack()`.

The crawl host imports this before it builds any crawler.

`scrapy.core.downloader.tls` and `.contextfactory` each define deprecated aliases with
`scrapy.utils.deprecate.create_deprecated_class`, which calls `inspect.stack()` only to read its
caller's module for the alias's `__module__`. `inspect.stack()` reads the source line of every frame on
the stack: three calls took 0.12 s of every crawl host (measured at the first crawler's set-up, ~60
frames deep), ~9 % of a run over an unchanged site. While these two modules are imported here,
`inspect.stack` returns the frames alone (no source context), which is all that caller reads; the aliases
get the same `__module__` (tests/crawlers/test_tls_import.py). Nothing else runs meanwhile: the host
imports this before it starts any thread. If the modules were imported already, this does nothing.
"""

from __future__ import annotations

import inspect
import sys
from types import FrameType
from typing import Any


def _frames(context: int = 1) -> list[tuple[FrameType, ...]]:
    """`inspect.stack()` as create_deprecated_class uses it: entry [i][0] is the frame i levels up."""
    frames: list[tuple[FrameType, ...]] = []
    frame: Any = sys._getframe(1)  # noqa: SLF001 - the caller of stack(), as inspect.stack's entry 0
    while frame is not None:
        frames.append((frame,))
        frame = frame.f_back
    return frames


def _import() -> None:
    real = inspect.stack
    inspect.stack = _frames  # type: ignore[assignment]
    try:
        import scrapy.core.downloader.contextfactory  # noqa: F401
        import scrapy.core.downloader.tls  # noqa: F401
    finally:
        inspect.stack = real


if "scrapy.core.downloader.tls" not in sys.modules:
    _import()
