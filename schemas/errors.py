"""Errors raised while loading or validating records."""

from __future__ import annotations


class SourceConfigError(ValueError):
    """Raised by `load_sources`/`parse_sources` when a sources file is unreadable or invalid.

    The message always names the file, the source id (or its position) and the field.
    """

    def __init__(self, message: str, *, path: str | None = None, source: str | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.source = source
        self.field = field


class SpooledBodyError(RuntimeError):
    """Raised by `SpooledBody.read` when a body is gone from its spool or no longer hashes to its sha256."""
