"""A decoded page to the lxml tree trafilatura would build from it, at less cost than `load_html`.

`trafilatura.utils.load_html(str)` removes XML-invalid characters with a regex over the whole page (0.5 ms
on a 60 KB page), repairs two doctype/`<html/>` faults, and hands libxml2 a Python str, which it
transcodes before parsing. Here the invalid characters are looked for in the UTF-8 bytes (a C-speed
`translate`, the regex only runs on the rare page that has some) and libxml2 parses those bytes directly:
the same parser, the same repairs, the same tree, in about two thirds of the time.
`test_extract_page_tree` holds the trees of both paths equal on every golden page and odd inputs.

The parser is trafilatura's, with one change: lxml.html picks each element's Python class through a
lookup written in Python (forms and inputs get classes of their own), called every time Python first
touches an element: ~270,000 calls and 6 % of our extraction time on 400 bench pages. Here libxml2's
own default lookup makes every element an `HtmlElement`; nothing in trafilatura, htmldate or scipol
uses the form classes' extra methods, and the text of every bench and golden page is unchanged.
"""

from __future__ import annotations

import logging

from lxml.etree import ElementDefaultClassLookup
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HTMLParser, HtmlProcessingInstruction, fromstring
from trafilatura.utils import DOCTYPE_TAG, FAULTY_HTML, INVALID_XML_CHARS

logger = logging.getLogger(__name__)

# The C0 controls of INVALID_XML_CHARS as bytes; its other two members (U+FFFE, U+FFFF) share the UTF-8
# prefix EF BF.
_C0_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_NONCHAR_PREFIX = b"\xef\xbf"

# trafilatura.utils.HTML_PARSER's options.
PARSER = HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True)
PARSER.set_element_class_lookup(ElementDefaultClassLookup(
    element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity))


def clean_markup(html: str) -> tuple[str, bytes]:
    """The page without XML-invalid characters, as text and as UTF-8 bytes."""
    data = html.encode("utf-8", "surrogatepass")
    if _has_invalid_chars(data):
        html = INVALID_XML_CHARS.sub("", html)
        data = html.encode("utf-8", "surrogatepass")
    return html, data


def _has_invalid_chars(data: bytes) -> bool:
    if len(data.translate(None, _C0_BYTES)) != len(data):
        return True
    # U+FFFE/U+FFFF are EF BF BE/BF; EF BF also starts U+FFF0-U+FFFD (U+FFFD is common), so only a hit
    # on the prefix costs the exact search.
    return _NONCHAR_PREFIX in data and (b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data)


def parse_markup(html: str, data: bytes) -> HtmlElement | None:
    """`load_html(html)` for the output of `clean_markup`: None when it is not HTML or does not parse."""
    beginning = html[:50].lower()
    repaired = _repair(html, beginning)
    if repaired is not html:
        data = repaired.encode("utf-8", "surrogatepass")
    try:
        tree = fromstring(data, parser=PARSER)
    except Exception:  # load_html's answer to a parser failure: no tree
        logger.debug("lxml could not parse the page", exc_info=True)
        return None
    # load_html rejects a text that does not start like HTML and parses to almost nothing.
    if tree is not None and "html" not in beginning and len(tree) < 2:
        return None
    return tree


def _repair(html: str, beginning: str) -> str:
    """trafilatura's `repair_faulty_html` minus its character removal (done by `clean_markup`)."""
    if "doctype" in beginning:
        # Rebuilt as trafilatura does, which adds a newline to a page written on one line.
        firstline, _, rest = html.partition("\n")
        fixed = DOCTYPE_TAG.sub("", firstline, count=1) + "\n" + rest
        if fixed != html:
            html = fixed
    for line in html[:4096].splitlines()[:4]:
        if "<html" in line and line.endswith("/>"):
            return FAULTY_HTML.sub(r"\1>", html, count=1)
    return html
