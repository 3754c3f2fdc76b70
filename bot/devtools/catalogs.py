"""Keep the gettext catalogs in step with the code (`relais i18n update|check`).

Message ids are extracted from bot/ and handlers/ with Babel (keywords `t`, `N_`, and
`plural` for plural forms). Each id lives in the catalog of the area that first uses it:
handlers/<area>.py, bot/services/<area>.py and bot/reports/<area>.py -> <area>.po (the
/diffuser handler, handlers/broadcast.py, shares broadcasts.po with its service),
bot/delivery/ -> delivery.po, everything else -> common.po. `update` keeps every existing
translation, restates French (the reference), and drops ids no longer used. `check` lists
what is missing or broken.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from bot.i18n import LANGUAGES, LOCALES_DIR, REFERENCE_LANGUAGE

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("bot", "handlers")
KEYWORDS: dict[str, tuple[int, ...] | None] = {"t": None, "N_": None, "plural": (1, 2)}


@dataclass
class Message:
    msgid: str | tuple[str, str]
    domain: str
    locations: list[tuple[str, int]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.msgid if isinstance(self.msgid, str) else self.msgid[0]


# One area, one catalog, even where its modules are named differently.
AREA_CATALOGS = {
    "broadcast": "broadcasts",
    "bilan_pdf": "bilan",
    "trio_week": "trios",
    "booster": "trios",
    "levers": "trios",
}


def domain_of(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    area = "common"
    if rel[0] == "handlers" and len(rel) == 2 and rel[1] != "__init__.py":
        area = path.stem
    elif rel[0] == "handlers" and len(rel) == 3:  # an area split into a package
        area = rel[1]
    elif rel[:2] in (("bot", "services"), ("bot", "reports")) and len(rel) == 3:
        area = path.stem if rel[2] != "__init__.py" else "common"
    elif rel[:2] == ("bot", "delivery"):
        area = "delivery"
    return AREA_CATALOGS.get(area, area)


def extract(root: Path = ROOT) -> dict[str, Message]:
    messages: dict[str, Message] = {}
    # The dev tools only press the bot's buttons (they reuse its texts): read them last, so
    # that they never decide which catalog a text belongs to.
    files = sorted(
        (p for d in SOURCE_DIRS for p in (root / d).rglob("*.py") if "sandbox" not in p.parts),
        key=lambda p: ("devtools" in p.parts, p),
    )
    for path in files:
        for lineno, msgid, _comments, _context in extract_from_file(
            "python", str(path), keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True
        ):
            if not msgid:
                continue
            key = msgid if isinstance(msgid, str) else msgid[0]
            if key not in messages:
                normalised = msgid if isinstance(msgid, str) else (msgid[0], msgid[1])
                messages[key] = Message(normalised, domain_of(path))
            messages[key].locations.append((str(path.relative_to(root)), lineno))
    return messages


def _read(path: Path, lang: str) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=lang)


def existing_translations(lang: str, directory: Path = LOCALES_DIR) -> dict[str, object]:
    found: dict[str, object] = {}
    for po_path in sorted((directory / lang / "LC_MESSAGES").glob("*.po")):
        for entry in _read(po_path, lang):
            if entry.id and entry.string:
                key = entry.id if isinstance(entry.id, str) else entry.id[0]
                found[key] = entry.string
    return found


def update(directory: Path = LOCALES_DIR) -> dict[str, list[str]]:
    """Rewrite every catalog from the code; returns, per language, the ids left untranslated."""
    messages = extract()
    missing: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        known = existing_translations(lang, directory)
        by_domain: dict[str, Catalog] = defaultdict(
            # A fixed date and no line numbers: regenerating changes a catalog only when
            # its messages change, so diffs stay readable.
            partial(Catalog, locale=lang, project="Relais", fuzzy=False, creation_date=_EPOCH)
        )
        missing[lang] = []
        for key, message in sorted(messages.items()):
            plurals = Catalog(locale=lang).num_plurals
            if lang == REFERENCE_LANGUAGE and isinstance(message.msgid, tuple):
                # French is the reference: restate it, with every plural form the locale has
                # (Babel gives French three; the extra ones take the plural text).
                singular, plural = message.msgid
                existing = known.get(key)
                forms = list(existing) if isinstance(existing, list | tuple) else []
                defaults = [singular] + [plural] * (plurals - 1)
                translation: object = tuple(
                    forms[i] if i < len(forms) and forms[i] else defaults[i] for i in range(plurals)
                )
            elif lang == REFERENCE_LANGUAGE and key not in known:
                translation = message.msgid
            else:
                empty = "" if isinstance(message.msgid, str) else ("",) * plurals
                translation = known.get(key, empty)
            if not translation or (isinstance(translation, tuple) and not all(translation)):
                missing[lang].append(key)
            by_domain[message.domain].add(
                message.msgid,
                translation,  # type: ignore[arg-type]  # str or a tuple of plural forms
                locations=message.locations,
            )
        folder = directory / lang / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.po"):
            if stale.stem not in by_domain:
                stale.unlink()
        for domain, catalog in by_domain.items():
            with (folder / f"{domain}.po").open("wb") as handle:
                write_po(handle, catalog, width=100, sort_output=True, include_lineno=False)
    return missing


_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_FIELD = re.compile(r"\{([^{}]*)\}")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def check(directory: Path = LOCALES_DIR) -> list[str]:
    """Problems with the catalogs, in plain words (empty when all is well)."""
    problems: list[str] = []
    messages = extract()
    for lang in LANGUAGES:
        known = existing_translations(lang, directory)
        for key, message in sorted(messages.items()):
            translation = known.get(key)
            where = "{}:{}".format(*message.locations[0])
            if not translation:
                problems.append(f"{lang}: missing translation of {key!r} ({where})")
                continue
            sources = [message.msgid] if isinstance(message.msgid, str) else list(message.msgid)
            targets = [translation] if isinstance(translation, str) else list(translation)  # type: ignore[call-overload]
            expected = set().union(*(placeholders(s) for s in sources))
            for target in targets:
                try:
                    got = placeholders(str(target))
                except ValueError as exc:
                    problems.append(f"{lang}: broken placeholder in {key!r}: {exc}")
                    continue
                if got - expected or (expected - {"n"}) - got:
                    problems.append(
                        f"{lang}: placeholders of {key!r} differ: expected {sorted(expected)}, "
                        f"got {sorted(got)}"
                    )
        for stale in sorted(set(known) - set(messages)):
            problems.append(f"{lang}: {stale!r} is in a catalog but no longer in the code")
    return problems
