"""crawlers.tls_import: Scrapy's TLS modules imported with a frames-only inspect.stack, same result."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

_PROBE = """
import json, sys, time, inspect
real = inspect.stack
{prelude}
import scrapy.core.downloader.contextfactory as cf
import scrapy.core.downloader.tls as tls
print(json.dumps({{
    "modules": [cf.ScrapyClientContextFactory.__module__, cf.AcceptableProtocolsContextFactory.__module__,
                tls.ScrapyClientTLSOptions.__module__],
    "stack_restored": inspect.stack is real,
}}))
"""


def _probe(prelude: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", _PROBE.format(prelude=prelude)], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_deprecated_aliases_get_the_module_scrapy_gives_them() -> None:
    plain = _probe("")
    fast = _probe("import crawlers.tls_import")
    assert plain["modules"] == ["scrapy.core.downloader.contextfactory"] * 2 + ["scrapy.core.downloader.tls"]
    assert fast == plain
    assert fast["stack_restored"] is True


def test_frames_match_inspect_stack() -> None:
    from crawlers.tls_import import _frames

    def caller() -> tuple[list[object], list[object]]:
        return [f[0] for f in _frames()], [f.frame for f in inspect.stack(0)]

    ours, real = caller()
    assert ours == real
