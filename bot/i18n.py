"""Translations and local formatting.

Catalogs are gettext `.po` files under content/locales/<lang>/LC_MESSAGES/<area>.po, one per
area so that features do not edit the same file. French is the reference: message ids are
the French texts, and fr catalogs restate them. They are read with Babel at start-up (no
compiled .mo to keep in sync).

Placeholders use `str.format` names (`{name}`). Values given to a translator are HTML-escaped
unless wrapped in `Html`, so user input can never break Telegram's HTML parse mode.
"""

from __future__ import annotations

import gettext
import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("fr", "nl", "en")
REFERENCE_LANGUAGE = "fr"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "content" / "locales"
_BABEL_LOCALES = {"fr": "fr_BE", "nl": "nl_BE", "en": "en_GB"}


class Html(str):
    """A value that is already safe Telegram HTML and must not be escaped again."""

    __slots__ = ()


def N_(message: str) -> str:
    """Mark a text for extraction without translating it (translated later, per member)."""
    return message


def escape(value: object) -> str:
    if isinstance(value, Html):
        return str(value)
    return html.escape(str(value), quote=False)


def normalise_language(code: str | None, default: str = REFERENCE_LANGUAGE) -> str:
    """The supported language closest to a Telegram `language_code` (e.g. "nl-BE" -> "nl")."""
    if code:
        short = code.split("-")[0].split("_")[0].lower()
        if short in LANGUAGES:
            return short
    return default


def _load_catalog(lang: str, directory: Path) -> gettext.NullTranslations:
    merged: gettext.NullTranslations = gettext.NullTranslations()
    folder = directory / lang / "LC_MESSAGES"
    for po_path in sorted(folder.glob("*.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=lang)
        buffer = BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        translations = gettext.GNUTranslations(buffer)
        translations.add_fallback(merged)
        merged = translations
    return merged


@dataclass(frozen=True)
class Translator:
    """Texts and formats for one language (and one time zone when showing instants)."""

    lang: str
    catalog: gettext.NullTranslations
    zone: tzinfo

    @property
    def locale(self) -> Locale:
        return Locale.parse(_BABEL_LOCALES[self.lang])

    def __call__(self, message: str, /, **values: object) -> str:
        """Translate `message` and fill its placeholders with escaped values."""
        text = self.catalog.gettext(message)
        if not values:
            return text
        return text.format_map({key: escape(value) for key, value in values.items()})

    def plural(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        text = self.catalog.ngettext(singular, plural, n)
        return text.format_map({"n": n, **{key: escape(v) for key, v in values.items()}})

    def raw(self, message: str) -> str:
        """Translate without formatting (for texts with literal braces)."""
        return self.catalog.gettext(message)

    def with_zone(self, zone: str | tzinfo) -> Translator:
        return Translator(
            self.lang, self.catalog, ZoneInfo(zone) if isinstance(zone, str) else zone
        )

    # Dates and times as people say them: "mercredi 15 janvier à 19 h 00".
    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)

    def date(self, value: datetime | date, fmt: str = "full") -> str:
        if isinstance(value, datetime):
            value = self.local(value).date()
        if fmt == "full":
            # Without the year, as people say it: "mercredi 15 janvier".
            return format_date(value, "EEEE d MMMM", locale=self.locale)
        return format_date(value, fmt, locale=self.locale)

    def time(self, value: datetime | time) -> str:
        local_time = self.local(value).time() if isinstance(value, datetime) else value
        if self.lang == "fr":
            return f"{local_time.hour} h {local_time.minute:02d}"
        return format_time(local_time, "HH:mm", locale=self.locale)

    def when(self, instant: datetime) -> str:
        """Date and time of an instant in this zone, in words."""
        t = self
        return t("{date} à {time}", date=self.date(instant), time=self.time(instant))

    def datetime(self, instant: datetime, fmt: str = "short") -> str:
        return format_datetime(self.local(instant), fmt, tzinfo=self.zone, locale=self.locale)


class I18n:
    """All catalogs, loaded once per process."""

    def __init__(
        self,
        directory: Path = LOCALES_DIR,
        default_language: str = REFERENCE_LANGUAGE,
        default_zone: str = "Europe/Brussels",
    ) -> None:
        self.directory = directory
        self.default_language = default_language
        self.default_zone = ZoneInfo(default_zone)
        self._catalogs: Mapping[str, gettext.NullTranslations] = {
            lang: _load_catalog(lang, directory) for lang in LANGUAGES
        }

    def __call__(self, lang: str | None, zone: str | tzinfo | None = None) -> Translator:
        language = lang if lang is not None and lang in self._catalogs else self.default_language
        if zone is None:
            resolved: tzinfo = self.default_zone
        elif isinstance(zone, str):
            resolved = _zone(zone)
        else:
            resolved = zone
        return Translator(language, self._catalogs[language], resolved)

    def all(self, message: str) -> Iterable[str]:
        """The text in every language (e.g. to recognise a reply-keyboard button)."""
        return {self(lang)(message) for lang in LANGUAGES}


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
