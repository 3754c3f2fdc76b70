"""Checks on free-text answers, shared by the services that store what people type."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


class InvalidValue(ValueError):
    """A typed answer that cannot be stored: empty, or longer than `limit` characters."""

    def __init__(self, reason: str, limit: int) -> None:
        super().__init__(f"{reason} (limit {limit})")
        self.reason = reason
        self.limit = limit

    @property
    def too_long(self) -> bool:
        return self.reason == "too_long"


def clean_text(value: str, *, max_length: int) -> str:
    """A free-text answer made fit to store: no control characters, single spaces.

    Raises InvalidValue when nothing is left or when it is longer than `max_length`.
    """
    printable = "".join(
        " " if unicodedata.category(ch).startswith("C") else ch for ch in value or ""
    )
    text = _SPACES.sub(" ", printable).strip()
    if not text:
        raise InvalidValue("empty", max_length)
    if len(text) > max_length:
        raise InvalidValue("too_long", max_length)
    return text
