"""The tips library and the curriculum: loaded from content/, checked before use.

Layout (see content/README.md for the trainer's version)::

    content/curriculum.yaml          themes (names in fr/nl/en), sessions, placeholder fallbacks
    content/tips/<lang>/<id>.md      one tip in one language; the same file name in fr, nl, en

A tip file is YAML front matter, then the text in Telegram HTML::

    ---
    id: objectifs-01-un-seul-chiffre
    title: "Un seul chiffre"       # plain text, at most 40 characters (it labels buttons)
    theme: objectives              # a code of curriculum.yaml `themes:`
    sectors: [all]                 # or codes of bot.models.Sector: [beauty, food]
    level: 1                       # 1 beginner, 2, 3
    session: 1                     # the curriculum session the tip follows
    link: https://www.facebook.com/business/help   # optional, https only
    ---
    <b>One idea.</b> One action for this week...

Rules the check enforces (``check(directory)`` / ``relais content check``): the front matter
fields above and no others; the id is the file name and unique; a short plain title in each
language; every tip exists in fr, nl and en with the same theme, sectors, level and session;
known theme, sectors and session; level 1-3; https links; the text is valid Telegram HTML
using only ``<b> <i> <u> <a href> <code> <blockquote>`` (a new line is a line break), at most
700 visible characters, and uses no placeholder but ``{first_name}`` and ``{business_name}``.

Placeholders are filled at send time with HTML-escaped values. When the member gave no
business name, ``{business_name}`` becomes the fallback of curriculum.yaml (e.g. "votre
commerce"); an empty ``{first_name}`` disappears with the comma or space before it, so write
it after a word: "Bonjour {first_name} !", "À vous de jouer, {first_name} !".

No telegram import here: handlers and the delivery renderers turn a tip into a message.

Longer than our ~600 lines on purpose: the loader and the checks of `relais content check`
are one grammar of the front matter; keeping them together keeps the rules and the errors
that explain them in step.
"""

from __future__ import annotations

import difflib
import html
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from bot.challenges_content import ChallengeDef, read_challenges
from bot.i18n import LANGUAGES, REFERENCE_LANGUAGE
from bot.models import Sector
from bot.telegram_html import inspect_html

log = logging.getLogger(__name__)

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
CURRICULUM_FILE = "curriculum.yaml"
PRACTICES_FILE = "practices.yaml"
TIPS_DIR = "tips"

# The themes every curriculum names (curriculum.yaml may add more).
CORE_THEMES = (
    "objectives",
    "posting_rhythm",
    "photos",
    "short_videos",
    "live",
    "comments_reviews",
    "getting_reviews",
    "appointments_messages",
    "local_visibility",
    "page_statistics",
    "local_partners",
    "time_protection",
)
ALL_SECTORS = "all"
SECTORS: tuple[str, ...] = tuple(sector.value for sector in Sector)
PLACEHOLDERS = ("first_name", "business_name")
TIP_TAGS = frozenset({"b", "i", "u", "a", "code", "blockquote"})
MAX_VISIBLE_CHARACTERS = 700
LEVELS = (1, 2, 3)
# Ids travel in callback data ("tip:<id>:down" and the like, at most 64 bytes).
MAX_ID_LENGTH = 48
# A title labels the tip on a button (the trainer's library, /stats): it must fit on a phone.
MAX_TITLE_LENGTH = 40
# A practice is one button of the progress check's checklist.
MAX_PRACTICE_LENGTH = 60
# Practice ids travel in callback data ("pt:<check>:<practice>:yes") and are stored.
_PRACTICE_ID = re.compile(r"^[a-z][a-z0-9_]{0,23}$")

REQUIRED_FIELDS = ("id", "title", "theme", "sectors", "level", "session")
OPTIONAL_FIELDS = ("link",)
# Fields that must be the same in every language of a tip.
SHARED_FIELDS = ("theme", "sectors", "level", "session")

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_PLACEHOLDER = re.compile(r"\{([^{}\n]{0,40})\}")
_LANGUAGE_NAMES = {"fr": "French", "nl": "Dutch", "en": "English"}


# -- the library --------------------------------------------------------------------------


@dataclass(frozen=True)
class Tip:
    """One tip in every language (`texts`: language -> Telegram HTML with placeholders)."""

    id: str
    theme: str
    sectors: tuple[str, ...]
    level: int
    session: int
    texts: Mapping[str, str]
    links: Mapping[str, str] = field(default_factory=dict)
    # Short plain-text titles per language (front matter `title:`), for buttons and lists.
    titles: Mapping[str, str] = field(default_factory=dict)

    @property
    def for_all(self) -> bool:
        """True when the tip suits every sector (`sectors: [all]`)."""
        return ALL_SECTORS in self.sectors

    @property
    def link(self) -> str | None:
        """The link of the reference (French) file, if any."""
        return self.links.get(REFERENCE_LANGUAGE)

    def link_for(self, lang: str) -> str | None:
        return self.links.get(lang, self.link)

    def suits(self, sector: str | None) -> bool:
        """Whether the tip fits a member of `sector` (None: unknown sector, generic tips only)."""
        return self.for_all or (sector is not None and sector in self.sectors)

    def text(self, lang: str) -> str:
        """The raw HTML (placeholders unfilled) in `lang`, French when missing."""
        return self.texts.get(lang) or self.texts[REFERENCE_LANGUAGE]

    def title(self, lang: str) -> str:
        """The short title in `lang`, French when missing (the id for a tip without one)."""
        return self.titles.get(lang) or self.titles.get(REFERENCE_LANGUAGE) or self.id


@dataclass(frozen=True)
class CurriculumSession:
    number: int
    titles: Mapping[str, str]
    themes: tuple[str, ...]
    descriptions: Mapping[str, str]

    def title(self, lang: str) -> str:
        return self.titles.get(lang) or self.titles[REFERENCE_LANGUAGE]

    def description(self, lang: str) -> str:
        return self.descriptions.get(lang) or self.descriptions[REFERENCE_LANGUAGE]

    @property
    def main_theme(self) -> str | None:
        return self.themes[0] if self.themes else None


@dataclass(frozen=True)
class Practice:
    """One habit of the progress check's checklist, linked to a tips theme."""

    id: str
    theme: str
    texts: Mapping[str, str]

    def text(self, lang: str) -> str:
        return self.texts.get(lang) or self.texts[REFERENCE_LANGUAGE]


@dataclass(frozen=True)
class Curriculum:
    sessions: tuple[CurriculumSession, ...]
    # theme code -> language -> display name, in the order of curriculum.yaml.
    theme_names: Mapping[str, Mapping[str, str]]
    # placeholder -> language -> text used when the member's value is empty.
    placeholder_defaults: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def session(self, number: int) -> CurriculumSession | None:
        for session in self.sessions:
            if session.number == number:
                return session
        return None


class ContentError(Exception):
    """The content does not pass the check; `problems` says what and where."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(str(problem) for problem in self.problems[:20])
        more = len(self.problems) - 20
        super().__init__(
            f"{len(self.problems)} problem(s) in the content (run `relais content check`):\n"
            + lines
            + (f"\n... and {more} more" if more > 0 else "")
        )


@dataclass(frozen=True)
class ContentLibrary:
    """Every tip and the curriculum, read once at start-up (immutable afterwards)."""

    tips_by_id: Mapping[str, Tip]
    curriculum: Curriculum
    directory: Path = CONTENT_DIR
    # The progress check's checklist (content/practices.yaml), in the order asked.
    practices: tuple[Practice, ...] = ()
    # The challenge library (content/challenges/, bot/challenges_content.py), by id.
    challenges: Mapping[str, ChallengeDef] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path = CONTENT_DIR, *, strict: bool = True) -> ContentLibrary:
        """Read content/. Strict (the default): raise ContentError if the check finds anything.

        Not strict: keep what is sound and leave out every tip that has a problem.
        """
        library, problems = _read(directory)
        if problems and strict:
            raise ContentError(problems)
        broken = {problem.tip_id for problem in problems if problem.tip_id}
        if broken:
            kept = {
                tip_id: tip for tip_id, tip in library.tips_by_id.items() if tip_id not in broken
            }
            library = cls(
                kept, library.curriculum, directory, library.practices, library.challenges
            )
        return library

    # -- lookups --------------------------------------------------------------------------

    @property
    def tips(self) -> tuple[Tip, ...]:
        return tuple(self.tips_by_id.values())

    def tip(self, tip_id: str) -> Tip | None:
        return self.tips_by_id.get(tip_id)

    def tips_for(
        self,
        theme: str | None = None,
        sector: str | None = None,
        level: int | None = None,
        *,
        max_level: int | None = None,
        session: int | None = None,
    ) -> list[Tip]:
        """Tips matching every filter given, in id order.

        `sector`: the tips for all sectors plus those for this sector. `level`: exactly this
        level; `max_level`: this level or easier. `session`: tips that follow this session.
        """
        return [
            tip
            for tip in self.tips_by_id.values()
            if (theme is None or tip.theme == theme)
            and (sector is None or tip.suits(sector))
            and (level is None or tip.level == level)
            and (max_level is None or tip.level <= max_level)
            and (session is None or tip.session == session)
        ]

    @property
    def themes(self) -> tuple[str, ...]:
        """Theme codes, in the order of curriculum.yaml."""
        return tuple(self.curriculum.theme_names)

    def theme_name(self, code: str, lang: str) -> str:
        """The display name of a theme in `lang` (French when missing, the code if unknown)."""
        names = self.curriculum.theme_names.get(code)
        if not names:
            return code
        return names.get(lang) or names.get(REFERENCE_LANGUAGE) or code

    @property
    def sessions(self) -> tuple[CurriculumSession, ...]:
        return self.curriculum.sessions

    def session(self, number: int) -> CurriculumSession | None:
        return self.curriculum.session(number)

    def challenge(self, challenge_id: str) -> ChallengeDef | None:
        return self.challenges.get(challenge_id)

    def challenges_for(self, theme: str | None = None) -> list[ChallengeDef]:
        """Library challenges of `theme` (all when None), in id order."""
        return [c for c in self.challenges.values() if theme is None or c.theme == theme]

    def practice(self, practice_id: str) -> Practice | None:
        for practice in self.practices:
            if practice.id == practice_id:
                return practice
        return None

    def session_theme(self, number: int) -> str | None:
        """The main theme of curriculum session `number` (its first), or None."""
        session = self.curriculum.session(number)
        return session.main_theme if session else None

    # -- rendering ------------------------------------------------------------------------

    def render(
        self,
        tip: Tip | str,
        lang: str,
        *,
        first_name: str | None = None,
        business_name: str | None = None,
    ) -> str:
        """The tip's text in `lang` (French when missing) with its placeholders filled.

        Values are HTML-escaped. An empty business name becomes the curriculum's fallback
        ("votre commerce"); an empty first name disappears with the separator before it.
        """
        if isinstance(tip, str):
            found = self.tip(tip)
            if found is None:
                raise KeyError(f"unknown tip {tip!r}")
            tip = found
        text = tip.text(lang)
        values = {"first_name": first_name or "", "business_name": business_name or ""}
        for name, value in list(values.items()):
            if not value.strip():
                fallback = self.curriculum.placeholder_defaults.get(name, {})
                values[name] = fallback.get(lang) or fallback.get(REFERENCE_LANGUAGE) or ""
        if not values["first_name"]:
            text = re.sub(r"[,\s]*\{first_name\}", "", text)
        return _PLACEHOLDER.sub(
            lambda match: (
                html.escape(values[match.group(1)].strip(), quote=False)
                if match.group(1) in values
                else match.group(0)
            ),
            text,
        )


def load(directory: Path = CONTENT_DIR, *, strict: bool = True) -> ContentLibrary:
    """Same as ContentLibrary.load."""
    return ContentLibrary.load(directory, strict=strict)


def load_for_bot(directory: Path = CONTENT_DIR) -> ContentLibrary:
    """The library a running bot uses: a tip that fails the check is left out (and said),
    never fatal — one broken tip must not keep the whole bot from starting."""
    try:
        return ContentLibrary.load(directory)
    except ContentError as exc:
        log.warning("content/ has problems; the tips concerned are left out:\n%s", exc)
        return ContentLibrary.load(directory, strict=False)


# -- problems -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing to fix, where it is (file, line, field) and how.

    `code` is stable for programs and tests: missing_file, yaml, front_matter, missing_field,
    unknown_field, bad_value, bad_id, id_mismatch, duplicate_id, missing_translation,
    inconsistent, unknown_theme, unknown_sector, bad_level, unknown_session, bad_link,
    bad_title, empty_text, html, too_long, unknown_placeholder, unknown_language, stray_file,
    curriculum, practices.
    """

    path: Path
    code: str
    message: str
    field: str | None = None
    line: int | None = None
    tip_id: str | None = None

    def __str__(self) -> str:
        where = _display(self.path) + (f":{self.line}" if self.line else "")
        what = f"{self.field}: " if self.field else ""
        return f"{where}: {what}{self.message}"


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def check(directory: Path = CONTENT_DIR) -> list[Problem]:
    """Every problem in content/ (an empty list when all is well)."""
    return _read(directory)[1]


def _suggest(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.6)
    return f" — did you mean {close[0]!r}?" if close else ""


def _known(values: Iterable[str]) -> str:
    return ", ".join(values)


# -- reading ------------------------------------------------------------------------------


@dataclass
class _TipFile:
    path: Path
    lang: str
    id: str
    meta: dict[str, Any]
    body: str
    body_line: int
    field_lines: dict[str, int]
    # Fields whose value is usable (present and well-formed).
    theme: str | None = None
    sectors: tuple[str, ...] | None = None
    level: int | None = None
    session: int | None = None
    link: str | None = None
    title: str | None = None


def _read(directory: Path) -> tuple[ContentLibrary, list[Problem]]:
    problems: list[Problem] = []
    curriculum = _read_curriculum(directory / CURRICULUM_FILE, problems)
    files = _read_tip_files(directory / TIPS_DIR, curriculum, problems)
    tips = _assemble(files, problems)
    practices = _read_practices(directory / PRACTICES_FILE, curriculum, problems)
    challenges = read_challenges(directory, curriculum, problems)
    return ContentLibrary(tips, curriculum, directory, practices, challenges), problems


def _read_practices(
    path: Path, curriculum: Curriculum, problems: list[Problem]
) -> tuple[Practice, ...]:
    """content/practices.yaml: a list of {id, theme, fr, nl, en}; unsound entries are left out."""
    if not path.is_file():
        problems.append(Problem(path, "missing_file", "the practices file is missing"))
        return ()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as error:
        problems.append(Problem(path, "yaml", f"not valid YAML: {error}", line=_yaml_line(error)))
        return ()
    entries = data.get("practices") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        problems.append(Problem(path, "practices", "expected a non-empty `practices:` list"))
        return ()
    practices: list[Practice] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"practices[{index}]"
        if not isinstance(entry, dict):
            problems.append(Problem(path, "practices", "expected id, theme, fr, nl, en", where))
            continue
        practice_id = entry.get("id")
        if not isinstance(practice_id, str) or not _PRACTICE_ID.match(practice_id):
            problems.append(
                Problem(path, "bad_id", "lowercase letters, digits and _ (24 at most)", where)
            )
            continue
        if practice_id in seen:
            problems.append(Problem(path, "duplicate_id", f"{practice_id!r} twice", where))
            continue
        seen.add(practice_id)
        theme = entry.get("theme")
        if theme not in curriculum.theme_names:
            problems.append(
                Problem(
                    path,
                    "unknown_theme",
                    f"unknown theme {theme!r}{_suggest(str(theme), curriculum.theme_names)}",
                    f"{where}.theme",
                )
            )
            continue
        texts = _texts(
            {key: value for key, value in entry.items() if key in LANGUAGES},
            path,
            where,
            problems,
        )
        if texts is None or len(texts) != len(LANGUAGES):
            continue
        long = [lang for lang, text in texts.items() if len(text) > MAX_PRACTICE_LENGTH]
        if long:
            problems.append(
                Problem(
                    path,
                    "too_long",
                    f"over {MAX_PRACTICE_LENGTH} characters (a button on a phone)",
                    f"{where}.{long[0]}",
                )
            )
            continue
        practices.append(Practice(practice_id, str(theme), texts))
    return tuple(practices)


def _yaml_line(error: yaml.YAMLError) -> int | None:
    mark = getattr(error, "problem_mark", None)
    return int(mark.line) + 1 if mark is not None else None


def _texts(value: object, path: Path, where: str, problems: list[Problem]) -> dict[str, str] | None:
    """A {fr:, nl:, en:} mapping of non-empty strings, or None after reporting why not."""
    if not isinstance(value, dict):
        problems.append(
            Problem(path, "curriculum", "expected a text per language: fr, nl and en", where)
        )
        return None
    texts: dict[str, str] = {}
    for lang in LANGUAGES:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            problems.append(
                Problem(
                    path,
                    "curriculum",
                    f"the {_LANGUAGE_NAMES[lang]} text is missing",
                    f"{where}.{lang}",
                )
            )
        else:
            texts[lang] = text.strip()
    for key in value:
        if key not in LANGUAGES:
            problems.append(
                Problem(
                    path,
                    "curriculum",
                    f"unknown language {key!r} (use fr, nl, en)",
                    f"{where}.{key}",
                )
            )
    return texts if REFERENCE_LANGUAGE in texts else None


def _read_curriculum(path: Path, problems: list[Problem]) -> Curriculum:
    empty = Curriculum((), {}, {})
    if not path.is_file():
        problems.append(Problem(path, "missing_file", "the curriculum file is missing"))
        return empty
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as error:
        problems.append(Problem(path, "yaml", f"not valid YAML: {error}", line=_yaml_line(error)))
        return empty
    if not isinstance(data, dict):
        problems.append(Problem(path, "curriculum", "expected `themes:` and `sessions:`"))
        return empty
    for key in data:
        if key not in ("themes", "sessions", "placeholders"):
            problems.append(
                Problem(
                    path, "curriculum", "unknown section (themes, sessions, placeholders)", str(key)
                )
            )

    theme_names: dict[str, dict[str, str]] = {}
    raw_themes = data.get("themes")
    if not isinstance(raw_themes, dict) or not raw_themes:
        problems.append(Problem(path, "curriculum", "a mapping of theme codes to names", "themes"))
    else:
        for code, names in raw_themes.items():
            if not isinstance(code, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", code):
                problems.append(
                    Problem(
                        path,
                        "curriculum",
                        "a theme code is lowercase letters, digits and _",
                        f"themes.{code}",
                    )
                )
                continue
            texts = _texts(names, path, f"themes.{code}", problems)
            if texts is not None:
                theme_names[code] = texts
        for code in CORE_THEMES:
            if code not in raw_themes:
                problems.append(
                    Problem(
                        path,
                        "curriculum",
                        f"the theme {code!r} is missing (it is required)",
                        "themes",
                    )
                )

    sessions: list[CurriculumSession] = []
    raw_sessions = data.get("sessions")
    if not isinstance(raw_sessions, list) or not raw_sessions:
        problems.append(Problem(path, "curriculum", "a list of sessions", "sessions"))
        raw_sessions = []
    seen: set[int] = set()
    for index, raw in enumerate(raw_sessions, start=1):
        where = f"sessions[{index}]"
        if not isinstance(raw, dict):
            problems.append(
                Problem(path, "curriculum", "expected number, title, themes, description", where)
            )
            continue
        number = raw.get("number")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            problems.append(
                Problem(path, "curriculum", "a session number (1, 2, ...)", f"{where}.number")
            )
            continue
        if number in seen:
            problems.append(
                Problem(path, "curriculum", f"session {number} is listed twice", f"{where}.number")
            )
            continue
        seen.add(number)
        titles = _texts(raw.get("title"), path, f"{where}.title", problems)
        descriptions = _texts(raw.get("description"), path, f"{where}.description", problems)
        themes = raw.get("themes")
        valid_themes: list[str] = []
        if not isinstance(themes, list) or not themes:
            problems.append(Problem(path, "curriculum", "a list of theme codes", f"{where}.themes"))
        else:
            for theme in themes:
                if theme in theme_names:
                    valid_themes.append(theme)
                else:
                    problems.append(
                        Problem(
                            path,
                            "unknown_theme",
                            f"unknown theme {theme!r}{_suggest(str(theme), theme_names)}",
                            f"{where}.themes",
                        )
                    )
        for key in raw:
            if key not in ("number", "title", "themes", "description"):
                problems.append(
                    Problem(
                        path,
                        "curriculum",
                        "unknown field (number, title, themes, description)",
                        f"{where}.{key}",
                    )
                )
        if titles is not None and descriptions is not None:
            sessions.append(CurriculumSession(number, titles, tuple(valid_themes), descriptions))
    sessions.sort(key=lambda session: session.number)

    defaults: dict[str, dict[str, str]] = {}
    raw_defaults = data.get("placeholders") or {}
    if not isinstance(raw_defaults, dict):
        problems.append(
            Problem(path, "curriculum", "a mapping of placeholder fallbacks", "placeholders")
        )
    else:
        for name, texts in raw_defaults.items():
            if name not in PLACEHOLDERS:
                problems.append(
                    Problem(
                        path,
                        "curriculum",
                        f"unknown placeholder (only {_known(PLACEHOLDERS)})",
                        f"placeholders.{name}",
                    )
                )
            elif not isinstance(texts, dict):
                problems.append(
                    Problem(path, "curriculum", "a text per language", f"placeholders.{name}")
                )
            else:
                defaults[name] = {str(k): str(v or "") for k, v in texts.items()}
    return Curriculum(tuple(sessions), theme_names, defaults)


def _split_front_matter(raw: str) -> tuple[str, str, int] | None:
    """(front matter, body, line where the body starts) or None without front matter."""
    lines = raw.split("\n")
    if not lines or lines[0].strip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            front = "\n".join(lines[1:index])
            rest = lines[index + 1 :]
            skipped = 0
            while skipped < len(rest) and not rest[skipped].strip():
                skipped += 1
            body = "\n".join(rest[skipped:]).rstrip()
            return front, body, index + 2 + (skipped if body else 0)
    return None


def _field_lines(front: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for number, line in enumerate(front.split("\n"), start=2):
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:", line)
        if match:
            lines.setdefault(match.group(1), number)
    return lines


def _read_tip_files(
    tips_dir: Path, curriculum: Curriculum, problems: list[Problem]
) -> list[_TipFile]:
    files: list[_TipFile] = []
    if not tips_dir.is_dir():
        problems.append(Problem(tips_dir, "missing_file", "the tips folder is missing"))
        return files
    for entry in sorted(tips_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir() or entry.name not in LANGUAGES:
            problems.append(
                Problem(
                    entry,
                    "unknown_language",
                    f"tips/ holds one folder per language: {_known(LANGUAGES)}",
                )
            )
    for lang in LANGUAGES:
        folder = tips_dir / lang
        if not folder.is_dir():
            problems.append(
                Problem(
                    folder, "missing_file", f"the {_LANGUAGE_NAMES[lang]} tips folder is missing"
                )
            )
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith("."):
                continue
            if path.suffix != ".md" or not path.is_file():
                problems.append(
                    Problem(
                        path, "stray_file", "only .md files are read here (rename it to <id>.md)"
                    )
                )
                continue
            tip_file = _read_tip_file(path, lang, curriculum, problems)
            if tip_file is not None:
                files.append(tip_file)
    return files


def _read_tip_file(
    path: Path, lang: str, curriculum: Curriculum, problems: list[Problem]
) -> _TipFile | None:
    stem = path.stem
    try:
        raw = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        problems.append(Problem(path, "front_matter", "save the file as UTF-8", tip_id=stem))
        return None
    split = _split_front_matter(raw)
    if split is None:
        problems.append(
            Problem(
                path,
                "front_matter",
                "the file must start with front matter between two lines of ---",
                line=1,
                tip_id=stem,
            )
        )
        return None
    front, body, body_line = split
    try:
        meta = yaml.safe_load(front) if front.strip() else {}
    except yaml.YAMLError as error:
        line = _yaml_line(error)
        problems.append(
            Problem(
                path,
                "yaml",
                f"the front matter is not valid YAML: {getattr(error, 'problem', error)}",
                line=line + 1 if line else None,
                tip_id=stem,
            )
        )
        return None
    if not isinstance(meta, dict):
        problems.append(
            Problem(
                path,
                "front_matter",
                "the front matter must be `field: value` lines",
                line=2,
                tip_id=stem,
            )
        )
        return None
    lines = _field_lines(front)

    def report(code: str, name: str | None, message: str, line: int | None = None) -> None:
        problems.append(
            Problem(path, code, message, name, line or (lines.get(name) if name else None), tip_id)
        )

    raw_id = meta.get("id")
    tip_id = str(raw_id) if raw_id is not None else stem
    known_fields = REQUIRED_FIELDS + OPTIONAL_FIELDS
    for name in REQUIRED_FIELDS:
        if meta.get(name) is None:
            report("missing_field", name, f"the field {name} is missing", 1)
    for name in meta:
        if str(name) not in known_fields:
            report(
                "unknown_field",
                str(name),
                f"unknown field{_suggest(str(name), known_fields)} "
                f"(fields: {_known(known_fields)})",
            )

    tip = _TipFile(path, lang, tip_id, meta, body, body_line, lines)
    if raw_id is not None:
        if not isinstance(raw_id, str) or not _ID.match(raw_id):
            report(
                "bad_id",
                "id",
                "an id is lowercase letters and digits joined by - (e.g. photos-03-lumiere)",
            )
        elif len(raw_id) > MAX_ID_LENGTH:
            report(
                "bad_id", "id", f"the id is {len(raw_id)} characters long; at most {MAX_ID_LENGTH}"
            )
        if str(raw_id) != stem:
            report(
                "id_mismatch",
                "id",
                f"the id {raw_id!r} differs from the file name: "
                f"rename the file {raw_id}.md or fix the id",
            )

    theme = meta.get("theme")
    if theme is not None:
        if not isinstance(theme, str) or theme not in curriculum.theme_names:
            known = curriculum.theme_names or dict.fromkeys(CORE_THEMES)
            report(
                "unknown_theme",
                "theme",
                f"unknown theme {theme!r}{_suggest(str(theme), known)} (themes: {_known(known)})",
            )
        else:
            tip.theme = theme

    sectors = meta.get("sectors")
    if sectors is not None:
        values = [sectors] if isinstance(sectors, str) else sectors
        if not isinstance(values, list) or not values:
            report("bad_value", "sectors", "a list of sectors, e.g. [all] or [beauty, food]")
        else:
            good = True
            for sector in values:
                if sector != ALL_SECTORS and sector not in SECTORS:
                    good = False
                    report(
                        "unknown_sector",
                        "sectors",
                        f"unknown sector {sector!r}"
                        f"{_suggest(str(sector), (*SECTORS, ALL_SECTORS))} "
                        f"(sectors: {ALL_SECTORS}, {_known(SECTORS)})",
                    )
            if good and ALL_SECTORS in values and len(values) > 1:
                good = False
                report(
                    "bad_value", "sectors", "`all` already means every sector: write [all] alone"
                )
            if good and len(set(values)) != len(values):
                good = False
                report("bad_value", "sectors", "a sector is listed twice")
            if good:
                tip.sectors = tuple(str(sector) for sector in values)

    level = meta.get("level")
    if level is not None:
        if not isinstance(level, int) or isinstance(level, bool) or level not in LEVELS:
            report("bad_level", "level", f"the level is 1 (beginner), 2 or 3, not {level!r}")
        else:
            tip.level = level

    session = meta.get("session")
    if session is not None:
        numbers = [s.number for s in curriculum.sessions]
        if not isinstance(session, int) or isinstance(session, bool) or session not in numbers:
            report(
                "unknown_session",
                "session",
                f"there is no session {session!r} in curriculum.yaml (sessions: "
                f"{', '.join(map(str, numbers)) or 'none'})",
            )
        else:
            tip.session = session

    title = meta.get("title")
    if title is not None:
        text = title.strip() if isinstance(title, str) else ""
        if not text:
            report("bad_title", "title", 'a short title in plain words, e.g. "Shoot by the window"')
        elif len(text) > MAX_TITLE_LENGTH:
            report(
                "bad_title",
                "title",
                f"the title is {len(text)} characters long; at most {MAX_TITLE_LENGTH} "
                "(it labels a button)",
            )
        elif re.search(r"[<>&{}\n]", text):
            report("bad_title", "title", "a title is plain text: no <, >, &, { or }")
        else:
            tip.title = text

    link = meta.get("link")
    if link is not None:
        if not isinstance(link, str) or not re.fullmatch(r"https://[^\s\"'<>]+\.[^\s\"'<>]+", link):
            report("bad_link", "link", f"a link is a full https:// address, not {link!r}")
        else:
            tip.link = link

    _check_body(tip, report)
    return tip


class _Report(Protocol):
    def __call__(
        self, code: str, name: str | None, message: str, line: int | None = None
    ) -> None: ...


def _check_body(tip: _TipFile, report: _Report) -> None:
    body = tip.body
    if not body.strip():
        report("empty_text", None, "the tip has no text after the front matter", tip.body_line)
        return
    result = inspect_html(body, allowed_tags=TIP_TAGS)
    if result.error is not None:
        report(
            "html",
            None,
            f"{result.error.message} (column {result.error.column})",
            tip.body_line + result.error.line - 1,
        )
    for href in result.links:
        if not href.startswith("https://"):
            report(
                "bad_link",
                None,
                f'links in the text must start with https:// (href="{href}")',
                tip.body_line,
            )
    if re.search(r"\*\*[^*\n]+\*\*|__[^_\n]+__|\[[^\]\n]+\]\([^)\n]+\)", body):
        report(
            "html",
            None,
            'this looks like Markdown: use <b>bold</b>, <i>italic</i>, <a href="https://...">text</a>',
            tip.body_line,
        )
    length = len(result.visible)
    if length > MAX_VISIBLE_CHARACTERS:
        report(
            "too_long",
            None,
            f"the text is {length} visible characters long; the limit is "
            f"{MAX_VISIBLE_CHARACTERS}: remove {length - MAX_VISIBLE_CHARACTERS}",
            tip.body_line,
        )
    for match in _PLACEHOLDER.finditer(body):
        name = match.group(1)
        if name not in PLACEHOLDERS:
            line = tip.body_line + body.count("\n", 0, match.start())
            report(
                "unknown_placeholder",
                None,
                f"unknown placeholder {{{name}}}{_suggest(name, PLACEHOLDERS)} "
                f"(only {{first_name}} and {{business_name}})",
                line,
            )


def _assemble(files: list[_TipFile], problems: list[Problem]) -> dict[str, Tip]:
    by_lang: dict[str, dict[str, _TipFile]] = {lang: {} for lang in LANGUAGES}
    for tip_file in files:
        seen = by_lang[tip_file.lang]
        kept = seen.get(tip_file.id)
        if kept is None:
            seen[tip_file.id] = tip_file
            continue
        copy = tip_file
        if kept.path.stem != kept.id and tip_file.path.stem == tip_file.id:
            # Keep the file named after the id: the other one is the copy to fix.
            seen[tip_file.id], kept, copy = tip_file, tip_file, kept
        problems.append(
            Problem(
                copy.path,
                "duplicate_id",
                f"the id {copy.id!r} is already used by {_display(kept.path)}: "
                "every tip needs its own id",
                "id",
                copy.field_lines.get("id"),
                copy.id,
            )
        )

    all_ids = sorted({tip_id for files_of in by_lang.values() for tip_id in files_of})
    tips: dict[str, Tip] = {}
    for tip_id in all_ids:
        versions = {lang: by_lang[lang][tip_id] for lang in LANGUAGES if tip_id in by_lang[lang]}
        present = next(iter(versions.values()))
        for lang in LANGUAGES:
            if lang not in versions:
                expected = present.path.parent.parent / lang / f"{tip_id}.md"
                problems.append(
                    Problem(
                        expected,
                        "missing_translation",
                        f"the {_LANGUAGE_NAMES[lang]} version of {_display(present.path)} is "
                        f"missing: every tip exists in {_known(LANGUAGES)} "
                        "under the same file name",
                        tip_id=tip_id,
                    )
                )
        reference = versions.get(REFERENCE_LANGUAGE)
        if reference is None:
            continue
        for lang, version in versions.items():
            if lang == REFERENCE_LANGUAGE:
                continue
            for name in SHARED_FIELDS:
                mine, theirs = getattr(version, name), getattr(reference, name)
                if mine is not None and theirs is not None and mine != theirs:
                    problems.append(
                        Problem(
                            version.path,
                            "inconsistent",
                            f"{_show(mine)} here but {_show(theirs)} in the French file "
                            f"{_display(reference.path)}: the languages of a tip must agree",
                            name,
                            version.field_lines.get(name),
                            tip_id,
                        )
                    )
        if (
            reference.theme is None
            or reference.sectors is None
            or reference.level is None
            or reference.session is None
        ):
            continue
        tips[tip_id] = Tip(
            id=tip_id,
            theme=reference.theme,
            sectors=reference.sectors,
            level=reference.level,
            session=reference.session,
            texts={lang: version.body for lang, version in versions.items()},
            links={lang: version.link for lang, version in versions.items() if version.link},
            titles={lang: version.title for lang, version in versions.items() if version.title},
        )
    return tips


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return repr(value)


# -- `relais content check` ---------------------------------------------------------------


def summary(directory: Path = CONTENT_DIR) -> list[str]:
    """Lines of a table: tips per theme and language, with totals."""
    files = _read_tip_files(
        directory / TIPS_DIR, _read_curriculum(directory / CURRICULUM_FILE, []), []
    )
    counts: Counter[tuple[str, str]] = Counter()
    themes: list[str] = []
    for tip_file in files:
        theme = tip_file.theme or "(unknown theme)"
        counts[(theme, tip_file.lang)] += 1
        if theme not in themes:
            themes.append(theme)
    order = [t for t in (*CORE_THEMES, *sorted(themes)) if t in themes]
    order = list(dict.fromkeys(order))
    width = max([len("theme"), len("total"), *map(len, order)])
    lines = [f"{'theme':<{width}}  " + "  ".join(f"{lang:>4}" for lang in LANGUAGES)]
    for theme in order:
        lines.append(
            f"{theme:<{width}}  " + "  ".join(f"{counts[(theme, lang)]:>4}" for lang in LANGUAGES)
        )
    totals = [sum(counts[(t, lang)] for t in order) for lang in LANGUAGES]
    lines.append(f"{'total':<{width}}  " + "  ".join(f"{n:>4}" for n in totals))
    return lines
