"""Downloader middlewares and the download handler that make the crawl safe and polite.

Order (process_request, low to high): safety (40) -> robots (100) -> retry (550) -> compression (590)
-> redirect (600). The download handler enforces host holds (Retry-After), backoff and the page budget
right before bytes go out, so nothing queued earlier can slip past them.
"""
