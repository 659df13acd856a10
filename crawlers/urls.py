"""URL canonicalisation: one article, one URL.

Tracking parameters, fragments, default ports and host case never make two articles out of one;
everything else in the URL (path case, meaningful query parameters) is kept, so distinct articles
are never merged.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

# Parameters that identify a visitor or a campaign, never a document.
_TRACKING_EXACT = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid", "mc_eid", "igshid",
    "_ga", "_gl", "ref_src", "spm", "from", "isappinstalled", "scene", "srcid", "share_token",
    "sessionid", "session_id", "sid", "phpsessid", "jsessionid", "aspsessionid", "cfid", "cftoken",
    "utm", "xtor", "cmpid", "ocid", "s_cid", "at_medium", "at_campaign",
})
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "vero_", "oly_")
# `from` is tracking on WeChat/Chinese portals (from=timeline, from=groupmessage) but could be real
# elsewhere, so only drop it with these values.
_FROM_TRACKING_VALUES = frozenset({"timeline", "groupmessage", "singlemessage", "message", "share", "rss"})
_PATH_SESSION = re.compile(r";(jsessionid|phpsessid|sid)=[^/?#]*", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A URL already in canonical form, the usual case: lower-case host (no trailing dot, no default port), a path of
# characters that percent-encoding leaves alone (no %, no ;session id), no query or fragment. The general
# path below would return it unchanged, after ~20 us of parsing; a crawl canonicalises every URL a feed or
# sitemap lists and every known URL (tests/crawlers/test_urls_canonical.py compares both paths).
_ALREADY_CANONICAL = re.compile(
    r"(https?)://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::([1-9][0-9]{0,4}))?/[A-Za-z0-9/:@!$&'()*+,=~._-]*")


def _is_tracking(name: str, value: str) -> bool:
    low = name.lower()
    if low == "from":
        return value.lower() in _FROM_TRACKING_VALUES
    return low in _TRACKING_EXACT or low.startswith(_TRACKING_PREFIXES)


def canonicalize_url(url: str) -> str:
    """Return the canonical form of an http(s) URL.

    Lower-cases scheme and host, drops default ports, fragments, tracking and session parameters,
    normalises percent-encoding and sorts the remaining query parameters. Raises ValueError for
    URLs that are not absolute http(s).
    """
    m = _ALREADY_CANONICAL.fullmatch(url)
    # A default port is dropped and a port past 65535 is an error: both go the general way.
    if m is not None and (m[2] is None or (int(m[2]) != _DEFAULT_PORTS[m[1]] and int(m[2]) < 65536)):
        return url
    return _canonicalize(url)


def _canonicalize(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _PATH_SESSION.sub("", parts.path) or "/"
    # Re-quote so %7E and ~ (or é and %C3%A9) name the same resource.
    path = quote(unquote(path), safe="/:@!$&'()*+,;=~-._")
    query_pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k, v)]
    query = urlencode(sorted(query_pairs), doseq=True)
    return urlunsplit((scheme, netloc, path, query, ""))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".")


def host_allowed(host: str, domains: list[str]) -> bool:
    """True when `host` is one of `domains` or a subdomain of one."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)
