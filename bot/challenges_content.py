"""The challenge library: content/challenges/<lang>/<id>.md, read and checked like the tips.

A challenge file is YAML front matter, then the text in Telegram HTML (one phone screen)::

    ---
    id: video-01-vos-mains-au-travail
    title: "20 secondes de vos mains"   # plain text, at most 40 characters (it labels buttons)
    theme: short_videos                 # a code of curriculum.yaml `themes:`
    sectors: [all]                      # or codes of bot.models.Sector
    level: 1                            # 1 beginner, 2, 3
    proof: photo                        # what counts as proof: photo, link or done
    ---
    Filmez 20 secondes de vos mains au travail...

The check (``relais content check`` calls `check_challenges` through bot/content.py): these
fields and no others, the id is the file name, every challenge exists in fr, nl and en with
the same theme, sectors, level and proof, known theme and sectors, valid Telegram HTML with
the tips' tags, at most 700 visible characters. A challenge with a problem is left out of
the running bot, never fatal.

No telegram import: handlers and renderers turn a challenge into a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot.i18n import LANGUAGES, REFERENCE_LANGUAGE
from bot.models import Sector
from bot.telegram_html import inspect_html

if TYPE_CHECKING:
    from bot.content import Curriculum, Problem

CHALLENGES_DIR = "challenges"
PROOFS = ("photo", "link", "done")
FIELDS = ("id", "title", "theme", "sectors", "level", "proof")
SHARED = ("theme", "sectors", "level", "proof")
MAX_TITLE = 40
MAX_VISIBLE = 700


@dataclass(frozen=True)
class ChallengeDef:
    """One challenge of the library in every language."""

    id: str
    theme: str
    sectors: tuple[str, ...]
    level: int
    proof: str
    titles: Mapping[str, str]
    texts: Mapping[str, str]

    def title(self, lang: str) -> str:
        return self.titles.get(lang) or self.titles[REFERENCE_LANGUAGE]

    def text(self, lang: str) -> str:
        return self.texts.get(lang) or self.texts[REFERENCE_LANGUAGE]

    def suits(self, sector: str | None) -> bool:
        return "all" in self.sectors or (sector is not None and sector in self.sectors)


@dataclass
class _File:
    lang: str
    meta: dict[str, Any]
    title: str
    body: str


def read_challenges(
    directory: Path, curriculum: Curriculum, problems: list[Problem]
) -> dict[str, ChallengeDef]:
    """The sound challenges of `directory/challenges`, by id; what is wrong goes to `problems`."""
    from bot.content import Problem, _split_front_matter

    root = directory / CHALLENGES_DIR
    if not root.is_dir():  # a library without challenges (tests build such small ones)
        return {}
    by_lang: dict[str, dict[str, _File]] = {lang: {} for lang in LANGUAGES}
    broken: set[str] = set()
    themes = set(curriculum.theme_names)
    sectors = {sector.value for sector in Sector} | {"all"}
    for lang in LANGUAGES:
        folder = root / lang
        if not folder.is_dir():
            problems.append(Problem(folder, "missing_file", f"the {lang} challenges are missing"))
            continue
        for path in sorted(folder.glob("*.md")):
            stem = path.stem

            def report(code: str, message: str, name: str | None = None) -> None:
                problems.append(Problem(path, code, message, name))  # noqa: B023
                broken.add(stem)  # noqa: B023

            split = _split_front_matter(path.read_text(encoding="utf-8-sig"))
            if split is None:
                report("front_matter", "the file must start with front matter between ---")
                continue
            front, body, _ = split
            try:
                meta = yaml.safe_load(front) or {}
            except yaml.YAMLError as error:
                report("yaml", f"the front matter is not valid YAML: {error}")
                continue
            if not isinstance(meta, dict):
                report("front_matter", "the front matter must be `field: value` lines")
                continue
            for name in FIELDS:
                if meta.get(name) is None:
                    report("missing_field", f"the field {name} is missing", name)
            for name in meta:
                if name not in FIELDS:
                    report("unknown_field", f"unknown field {name}", str(name))
            if str(meta.get("id")) != stem:
                report("id_mismatch", "the id must be the file name", "id")
            title = str(meta.get("title") or "").strip()
            if not title or len(title) > MAX_TITLE or "<" in title:
                report("bad_title", f"a plain title of at most {MAX_TITLE} characters", "title")
            if meta.get("theme") not in themes:
                report("unknown_theme", f"unknown theme {meta.get('theme')!r}", "theme")
            raw_sectors = meta.get("sectors")
            if not isinstance(raw_sectors, list) or not raw_sectors:
                report("bad_value", "sectors is a list, e.g. [all]", "sectors")
            elif any(str(sector) not in sectors for sector in raw_sectors):
                report("unknown_sector", f"unknown sector in {raw_sectors}", "sectors")
            if meta.get("level") not in (1, 2, 3):
                report("bad_level", "level is 1, 2 or 3", "level")
            if meta.get("proof") not in PROOFS:
                report("bad_value", f"proof is one of {', '.join(PROOFS)}", "proof")
            if not body.strip():
                report("empty_text", "the challenge has no text")
            else:
                result = inspect_html(body, allowed_tags=frozenset({"b", "i", "u", "a"}))
                if result.error is not None:
                    report("html", result.error.message)
                if len(result.visible) > MAX_VISIBLE:
                    report("too_long", f"over {MAX_VISIBLE} visible characters: one phone screen")
            by_lang[lang][stem] = _File(lang, meta, title, body)
    library: dict[str, ChallengeDef] = {}
    for challenge_id, reference in sorted(by_lang[REFERENCE_LANGUAGE].items()):
        files = {lang: by_lang[lang].get(challenge_id) for lang in LANGUAGES}
        path = root / REFERENCE_LANGUAGE / f"{challenge_id}.md"
        missing = [lang for lang, found in files.items() if found is None]
        if missing:
            problems.append(
                Problem(path, "missing_translation", f"missing in {', '.join(missing)}")
            )
            continue
        differ = [
            name
            for name in SHARED
            if any(f is not None and f.meta.get(name) != reference.meta.get(name)
                   for f in files.values())
        ]  # fmt: skip
        if differ:
            problems.append(
                Problem(path, "inconsistent", f"{', '.join(differ)} differ between languages")
            )
            continue
        if challenge_id in broken:
            continue
        library[challenge_id] = ChallengeDef(
            id=challenge_id,
            theme=str(reference.meta["theme"]),
            sectors=tuple(str(s) for s in reference.meta["sectors"]),
            level=int(reference.meta["level"]),
            proof=str(reference.meta["proof"]),
            titles={lang: f.title for lang, f in files.items() if f is not None},
            texts={lang: f.body for lang, f in files.items() if f is not None},
        )
    for lang in LANGUAGES:
        for stray in set(by_lang[lang]) - set(by_lang[REFERENCE_LANGUAGE]):
            problems.append(
                Problem(root / lang / f"{stray}.md", "stray_file", "no French file of that name")
            )
    return library
