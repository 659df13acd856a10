"""AutoThrottle that learns from 304 answers too.

Scrapy's AutoThrottle only lets a 200 lower the per-site delay (error pages are small and fast, and
letting them lower it would speed up against a failing site). A 304 is no error: it is the answer a
conditional revisit hopes for, and a run of them (a revisit flow, `--recheck-known`) never gave the
delay a chance to come down once one slow answer, or a large sitemap, had raised it: 10,000 304s took
minutes at ~5 % CPU (bench/RESULTS.md). Here a 304 counts like a 200. The floor is still the source's
`download_delay`, so politeness towards a real site is unchanged. Feeds, sitemaps and listing pages do
not adjust the delay at all (their latency measures their size, not the server's load): the spider
marks them `autothrottle_dont_adjust_delay`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.extensions.throttle import AutoThrottle

if TYPE_CHECKING:
    from scrapy.core.downloader import Slot
    from scrapy.http import Response


class RevisitAwareAutoThrottle(AutoThrottle):
    def _adjust_delay(self, slot: Slot, latency: float, response: Response) -> None:
        # Scrapy's policy (scrapy/extensions/throttle.py), with 304 treated as 200.
        target_delay = latency / self.target_concurrency
        new_delay = max(target_delay, (slot.delay + target_delay) / 2.0)
        new_delay = min(max(self.mindelay, new_delay), self.maxdelay)
        if response.status not in (200, 304) and new_delay <= slot.delay:
            return
        slot.delay = new_delay
