"""The bundled demo site: static science-policy news pages and a local HTTP server for them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flows.demo.site_server import DemoArticle, DemoSite, RequestRecord

__all__ = ["DemoArticle", "DemoSite", "RequestRecord"]


def __getattr__(name: str) -> Any:
    # Imported lazily so `python -m flows.demo.site_server` does not import the module twice.
    if name in __all__:
        from flows.demo import site_server

        return getattr(site_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
