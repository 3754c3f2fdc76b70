"""The catalogs: every message translated in every language, placeholders intact, and every
text valid for Telegram (HTML parse mode, length)."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from bot.devtools.catalogs import check, placeholders
from bot.i18n import LANGUAGES, LOCALES_DIR
from bot.telegram_html import telegram_length, validate_html

TELEGRAM_TEXT_LIMIT = 4096


def test_every_catalog_has_every_message_with_its_placeholders() -> None:
    problems = check()
    assert problems == [], "\n".join(problems)


def _edit(path: Path, lang: str, msgid: str, translation: str) -> None:
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    message = catalog[msgid]
    assert message is not None, msgid
    message.string = translation
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, sort_output=True)


def test_check_reports_a_missing_translation_and_a_broken_placeholder(tmp_path: Path) -> None:
    copy = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, copy)
    onboarding = copy / "nl" / "LC_MESSAGES" / "onboarding.po"
    _edit(
        onboarding, "nl", "Merci {name} ! Quel est <b>le nom de votre commerce</b> ?", "Dank {naam}"
    )
    _edit(onboarding, "nl", "Reprenons 🙂", "")

    problems = check(copy)

    assert any("placeholders of 'Merci {name}" in p and p.startswith("nl:") for p in problems)
    assert any("missing translation of 'Reprenons 🙂'" in p for p in problems)


def _catalog_texts(lang: str) -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = []
    for path in sorted((LOCALES_DIR / lang / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=lang):
                if not message.id:
                    continue
                value = message.string
                strings = [value] if isinstance(value, str) else list(value or ())
                texts.extend((f"{path.name}: {message.id!r}", s) for s in strings if s)
    return texts


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_text_is_valid_telegram_html_within_limits(lang: str) -> None:
    problems = []
    for where, text in _catalog_texts(lang):
        try:
            names = placeholders(text)
        except ValueError:
            continue  # literal braces: a text used with t.raw, checked where it is formatted
        # A long, awkward value: placeholders are filled with escaped user text.
        filled = text.format_map(defaultdict(str, dict.fromkeys(names, "Zoë &amp; Co" * 3)))
        error = validate_html(filled)
        if error:
            problems.append(f"{where}: {error}")
        elif telegram_length(filled) > TELEGRAM_TEXT_LIMIT:
            problems.append(f"{where}: longer than {TELEGRAM_TEXT_LIMIT}")
    assert problems == [], "\n".join(problems)
