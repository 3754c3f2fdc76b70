"""The conversations shown in docs/ are the bot's conversations of today: every story of
bot/devtools/transcripts.py is played again on the sandbox (demo cohort, fixed clock, fixed
seed), written to a temporary folder, and compared with docs/transcripts/*.md and the guides'
blocks."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from bot.devtools.transcripts import (
    BLOCK,
    DOCS,
    ROOT,
    expected_files,
    fixed_randomness,
    generate,
    quote,
    stale_files,
)
from tests.conftest import TEST_DATABASE_URL

REGENERATE = (
    "regenerate them with `relais transcripts` (or `.venv/bin/python -m bot.devtools.transcripts`)"
)


@pytest.mark.skipif(
    bool(TEST_DATABASE_URL),
    reason="the transcripts are played on their own SQLite database: once per run is enough",
)
async def test_the_committed_transcripts_and_guides_are_current(tmp_path: Path) -> None:
    files = expected_files(await generate())
    for path, text in files.items():
        copy = tmp_path / path.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text, encoding="utf-8")
    stale = stale_files(files)
    if stale:
        first = stale[0]
        old = first.read_text(encoding="utf-8").splitlines() if first.exists() else []
        new = files.get(first, "").splitlines()
        diff = "\n".join(
            list(difflib.unified_diff(old, new, "committed", "today", lineterm=""))[:40]
        )
        names = ", ".join(str(p.relative_to(ROOT)) for p in stale)
        pytest.fail(
            f"the bot does not say what docs/ shows any more ({names}): {REGENERATE}.\n"
            f"Fresh copies are in {tmp_path}. First difference:\n{diff}"
        )
    # Every guide shows at least one transcript, and every transcript is shown somewhere.
    guides = {path.name: path.read_text(encoding="utf-8") for path in DOCS.glob("guide-*.md")}
    assert {"guide-coordinateur.md", "guide-formateur.md", "guide-commercant.md"} <= set(guides)
    for name, text in guides.items():
        assert BLOCK.search(text), f"{name} shows no transcript"


def test_a_guide_block_is_filled_and_an_unknown_name_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "guide.md").write_text(
        "Avant\n<!-- transcript:hello -->\nvieux texte\n<!-- /transcript -->\nAprès\n"
    )
    files = expected_files({"hello": "> Bonjour\n"}, docs=tmp_path)
    assert files[tmp_path / "guide.md"] == (
        "Avant\n<!-- transcript:hello -->\n> Bonjour\n<!-- /transcript -->\nAprès\n"
    )
    assert files[tmp_path / "transcripts" / "hello.md"].endswith("\n\n> Bonjour\n")
    assert set(stale_files(files, docs=tmp_path)) == set(files)  # nothing written yet
    (tmp_path / "other.md").write_text("<!-- transcript:nope -->\n<!-- /transcript -->\n")
    with pytest.raises(KeyError, match="nope"):
        expected_files({"hello": "> Bonjour\n"}, docs=tmp_path)


def test_quotes_keep_lines_and_tables() -> None:
    assert quote([["a", "b"], ["```text", "N°  Date", "```"]]) == [
        "> a\\",
        "> b",
        ">",
        "> ```text",
        "> N°  Date",
        "> ```",
    ]


def test_fixed_randomness_repeats_and_is_undone() -> None:
    import secrets

    with fixed_randomness():
        first = (secrets.token_urlsafe(12), secrets.choice("ABCDEFGH"))
    with fixed_randomness():
        again = (secrets.token_urlsafe(12), secrets.choice("ABCDEFGH"))
    assert first == again
    assert secrets.token_urlsafe(12) != first[0]
