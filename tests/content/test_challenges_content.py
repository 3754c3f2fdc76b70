"""The challenge library (content/challenges/): at least 24 in fr, nl, en, checked like tips."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.content import CONTENT_DIR, check, load
from bot.i18n import LANGUAGES
from bot.telegram_html import inspect_html


def test_at_least_24_challenges_in_every_language_one_screen_each() -> None:
    library = load()
    assert len(library.challenges) >= 24
    for challenge in library.challenges.values():
        assert set(challenge.texts) == set(LANGUAGES)
        assert challenge.proof in ("photo", "link", "done")
        assert challenge.theme in library.themes
        for lang in LANGUAGES:
            assert len(inspect_html(challenge.text(lang)).visible) <= 700
            assert 0 < len(challenge.title(lang)) <= 40
    # Every theme of the curriculum has at least one challenge, and all three proofs occur.
    assert {c.theme for c in library.challenges.values()} == set(library.themes)
    assert {c.proof for c in library.challenges.values()} == {"photo", "link", "done"}


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, root, ignore=shutil.ignore_patterns("locales"))
    return root


def test_the_check_finds_a_missing_translation_and_a_bad_proof(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "challenges" / "nl" / "video-01-vos-mains-au-travail.md").unlink()
    bad = root / "challenges" / "en" / "photo-01-la-vitrine-a-la-lumiere.md"
    bad.write_text(bad.read_text(encoding="utf-8").replace("proof: photo", "proof: video"))
    codes = {(p.code, p.path.name) for p in check(root)}
    assert ("missing_translation", "video-01-vos-mains-au-travail.md") in codes
    assert ("bad_value", "photo-01-la-vitrine-a-la-lumiere.md") in codes
    # The bot still starts, without the two broken challenges.
    library = load(root, strict=False)
    assert "video-01-vos-mains-au-travail" not in library.challenges
    assert "photo-01-la-vitrine-a-la-lumiere" not in library.challenges
    assert len(library.challenges) == len(load().challenges) - 2


def test_the_check_finds_bad_html_and_an_unknown_theme(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "challenges" / "fr" / "rythme-01-trois-posts-prepares.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("<b>", "<b><i>", 1).replace("posting_rhythm", "posting"))
    codes = {p.code for p in check(root) if p.path == path}
    assert {"html", "unknown_theme"} <= codes
