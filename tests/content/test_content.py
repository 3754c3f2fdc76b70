"""The content library: the real one passes the check, and the check catches each mistake.

Broken libraries are built in tmp_path from one valid tip, changed one way at a time; each
test asserts the exact problem (code, file, field, line) a trainer would be shown.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from bot.cli import main as cli_main
from bot.cli.content import content_check_command
from bot.content import (
    CONTENT_DIR,
    CORE_THEMES,
    MAX_TITLE_LENGTH,
    MAX_VISIBLE_CHARACTERS,
    PLACEHOLDERS,
    SECTORS,
    ContentError,
    ContentLibrary,
    Problem,
    check,
    load,
)
from bot.i18n import LANGUAGES
from bot.models import Sector
from bot.sandbox.entities import finalize_text, parse_html
from bot.telegram_html import (
    inspect_html,
    telegram_length,
    validate_html,
    visible_text,
)

NAMED_SECTORS = [sector.value for sector in Sector if sector is not Sector.OTHER]

# -- the real library ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def library() -> ContentLibrary:
    return load()


def test_the_real_library_passes_the_check() -> None:
    problems = check(CONTENT_DIR)
    assert problems == [], "\n".join(map(str, problems))


def test_at_least_60_tips_in_every_language(library: ContentLibrary) -> None:
    assert len(library.tips) >= 60
    for lang in LANGUAGES:
        files = list((CONTENT_DIR / "tips" / lang).glob("*.md"))
        assert len(files) >= 60, lang
        assert all(lang in tip.texts for tip in library.tips)


def test_every_theme_has_several_tips_over_several_levels(library: ContentLibrary) -> None:
    per_theme = Counter(tip.theme for tip in library.tips)
    for theme in CORE_THEMES:
        assert per_theme[theme] >= 4, theme
    assert set(library.themes) >= set(CORE_THEMES)


def test_every_named_sector_has_at_least_two_specific_tips(library: ContentLibrary) -> None:
    per_sector = Counter(sector for tip in library.tips for sector in tip.sectors)
    for sector in NAMED_SECTORS:
        assert per_sector[sector] >= 2, sector
    # And most tips are for everyone.
    assert per_sector["all"] >= len(library.tips) // 2


def test_tips_fit_on_one_screen_and_use_known_placeholders(library: ContentLibrary) -> None:
    for tip in library.tips:
        for lang in LANGUAGES:
            text = tip.text(lang)
            assert len(visible_text(text)) <= MAX_VISIBLE_CHARACTERS
            assert validate_html(text) is None
            assert "<br" not in text
            assert "<p>" not in text


def test_levels_and_sessions_are_spread(library: ContentLibrary) -> None:
    assert {tip.level for tip in library.tips} == {1, 2, 3}
    sessions = {session.number for session in library.sessions}
    assert {tip.session for tip in library.tips} == sessions


def test_curriculum(library: ContentLibrary) -> None:
    assert [s.number for s in library.sessions] == [1, 2, 3, 4, 5, 6]
    assert library.session_theme(1) == "objectives"
    assert library.session_theme(3) == "short_videos"
    assert library.session_theme(99) is None
    for session in library.sessions:
        for lang in LANGUAGES:
            assert session.title(lang)
            assert session.description(lang)
    covered = {theme for session in library.sessions for theme in session.themes}
    assert covered == set(CORE_THEMES)
    assert library.theme_name("live", "fr") == "Le direct avec vos clients"
    assert library.theme_name("live", "nl") == "Live gaan met uw klanten"
    assert library.theme_name("live", "en") == "Going live with your customers"
    assert library.theme_name("live", "de") == "Le direct avec vos clients"
    assert library.theme_name("nope", "fr") == "nope"


def test_lookups(library: ContentLibrary) -> None:
    tip = library.tip("objectifs-01-un-chiffre-et-une-date")
    assert tip is not None
    assert tip.theme == "objectives"
    assert tip.for_all
    assert tip.level == 1
    assert tip.session == 1
    assert library.tip("no-such-tip") is None

    books = library.tips_for(sector="books")
    assert any(t.sectors == ("books",) for t in books)
    assert all(t.for_all or "books" in t.sectors for t in books)
    assert not any("beauty" in t.sectors and not t.for_all for t in books)

    assert all(t.theme == "live" for t in library.tips_for(theme="live"))
    assert all(t.level == 1 for t in library.tips_for(level=1))
    assert all(t.level <= 2 for t in library.tips_for(max_level=2))
    assert all(t.session == 4 for t in library.tips_for(session=4))
    combined = library.tips_for(theme="photos", sector="crafts", level=1)
    assert "photos-03-atelier-en-trois-etapes" in [t.id for t in combined]
    # No sector filter: every tip; a member of unknown sector suits the generic tips only.
    assert len(library.tips_for()) == len(library.tips)
    assert [t.id for t in library.tips if t.suits(None)] == [
        t.id for t in library.tips if t.for_all
    ]


def test_render_fills_and_escapes_placeholders(library: ContentLibrary) -> None:
    tip_id = "stats-04-se-comparer-a-soi-meme"
    text = library.render(tip_id, "fr", business_name="Coiffure <Anne> & Fils")
    assert "la page de Coiffure &lt;Anne&gt; &amp; Fils" in text
    assert validate_html(text) is None
    assert "la page de votre commerce" in library.render(tip_id, "fr")
    assert "de pagina van uw zaak" in library.render(tip_id, "nl", business_name="  ")
    assert "the page of your business" in library.render(tip_id, "en")

    named = library.render("temps-01-quinze-minutes-chrono", "fr", first_name="Anne")
    assert "vos soirées, Anne.</b>" in named
    anonymous = library.render("temps-01-quinze-minutes-chrono", "fr")
    assert "vos soirées.</b>" in anonymous
    assert "{" not in anonymous
    assert "À vous de jouer !" in library.render("avis-01-au-bon-moment", "fr")
    # An unknown language falls back to French.
    assert library.render(tip_id, "de") == library.render(tip_id, "fr")
    with pytest.raises(KeyError):
        library.render("no-such-tip", "fr")


def test_every_rendered_tip_is_accepted_by_the_sandbox_bot_api(library: ContentLibrary) -> None:
    # The sandbox re-implements Telegram's own parser: what the bot will really send passes.
    for tip in library.tips:
        for lang in LANGUAGES:
            for name in ("", "Coiffure <Anne> & Fils"):
                text = library.render(tip, lang, first_name=name, business_name=name)
                plain, entities = parse_html(text)
                assert finalize_text(plain, entities)[0], tip.id


def test_relais_content_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["content", "check"]) == 0
    assert "Content OK" in capsys.readouterr().out


def test_content_check_command_on_the_real_library(capsys: pytest.CaptureFixture[str]) -> None:
    assert content_check_command() == 0
    out = capsys.readouterr().out
    assert "Content OK" in out
    assert "objectives" in out
    assert "total" in out


# -- broken libraries ---------------------------------------------------------------------

VALID_BODY = "<b>Une idée.</b> Une action pour cette semaine."


def tip_source(
    tip_id: str = "photos-99-essai",
    *,
    theme: str = "photos",
    sectors: str = "[all]",
    level: str = "1",
    session: str = "2",
    title: str | None = '"Une idée"',
    link: str | None = None,
    body: str = VALID_BODY,
    extra: str = "",
) -> str:
    lines = [
        "---",
        f"id: {tip_id}",
        f"theme: {theme}",
        f"sectors: {sectors}",
        f"level: {level}",
        f"session: {session}",
    ]
    # Last, so that the other fields keep their line numbers in the tests below.
    if title is not None:
        lines.append(f"title: {title}")
    if link is not None:
        lines.append(f"link: {link}")
    if extra:
        lines.append(extra)
    lines.append("---")
    return "\n".join(lines) + "\n" + body + "\n"


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A small valid library: the real curriculum and one tip in three languages."""
    root = tmp_path / "content"
    (root / "tips").mkdir(parents=True)
    shutil.copy(CONTENT_DIR / "curriculum.yaml", root / "curriculum.yaml")
    shutil.copy(CONTENT_DIR / "practices.yaml", root / "practices.yaml")
    for lang in LANGUAGES:
        (root / "tips" / lang).mkdir()
        write(root, lang, "photos-99-essai", tip_source())
    return root


def write(root: Path, lang: str, name: str, source: str) -> Path:
    path = root / "tips" / lang / f"{name}.md"
    path.write_text(source, encoding="utf-8")
    return path


def only(problems: list[Problem], code: str) -> Problem:
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, "\n".join(map(str, problems))
    return found[0]


def test_the_small_library_is_valid(content: Path) -> None:
    assert check(content) == []
    library = load(content)
    assert [t.id for t in library.tips] == ["photos-99-essai"]


def test_missing_translation(content: Path) -> None:
    (content / "tips" / "en" / "photos-99-essai.md").unlink()
    problem = only(check(content), "missing_translation")
    assert problem.path == content / "tips" / "en" / "photos-99-essai.md"
    assert "English version" in problem.message
    assert "fr, nl, en" in problem.message
    assert problem.tip_id == "photos-99-essai"


def test_missing_french_reference(content: Path) -> None:
    (content / "tips" / "fr" / "photos-99-essai.md").unlink()
    problem = only(check(content), "missing_translation")
    assert problem.path.parent.name == "fr"
    assert "French version" in problem.message


def test_duplicate_id(content: Path) -> None:
    for lang in LANGUAGES:
        write(content, lang, "photos-98-copie", tip_source("photos-99-essai"))
    problems = check(content)
    duplicates = [p for p in problems if p.code == "duplicate_id"]
    assert len(duplicates) == 3
    fr = next(p for p in duplicates if p.path.parent.name == "fr")
    assert fr.path.name == "photos-98-copie.md"
    assert fr.field == "id"
    assert fr.line == 2
    assert "'photos-99-essai' is already used by" in fr.message
    assert "photos-99-essai.md" in fr.message
    # The file name disagrees with the id too, and says how to fix it.
    mismatch = [p for p in problems if p.code == "id_mismatch"]
    assert len(mismatch) == 3
    assert "rename the file photos-99-essai.md or fix the id" in mismatch[0].message


def test_unknown_theme(content: Path) -> None:
    write(content, "fr", "photos-99-essai", tip_source(theme="photo"))
    problems = check(content)
    problem = only(problems, "unknown_theme")
    assert problem.path == content / "tips" / "fr" / "photos-99-essai.md"
    assert problem.field == "theme"
    assert problem.line == 3
    assert problem.message.startswith("unknown theme 'photo' — did you mean 'photos'?")
    assert "objectives" in problem.message
    assert str(problem).endswith(problem.message)
    assert ":3: theme: unknown theme 'photo'" in str(problem)


def test_701_visible_characters(content: Path) -> None:
    write(content, "nl", "photos-99-essai", tip_source(body="x" * 701))
    problem = only(check(content), "too_long")
    assert problem.path.parent.name == "nl"
    assert problem.line == 9
    assert problem.message == (
        "the text is 701 visible characters long; the limit is 700: remove 1"
    )


@pytest.mark.parametrize(
    "body",
    [
        "x" * 700,
        "<b>" + "x" * 698 + "</b>",
        "&amp;" * 700,
        '<a href="https://www.facebook.com/business/help">' + "x" * 700 + "</a>",
    ],
)
def test_700_visible_characters_is_fine(content: Path, body: str) -> None:
    write(content, "fr", "photos-99-essai", tip_source(body=body))
    assert check(content) == []


def test_unclosed_tag(content: Path) -> None:
    body = "Première ligne.\n\n<b>unclosed"
    write(content, "fr", "photos-99-essai", tip_source(body=body))
    problem = only(check(content), "html")
    assert problem.line == 11
    assert problem.message == ("<b> is never closed: add </b> where it should end (column 1)")


def test_bare_ampersand(content: Path) -> None:
    write(content, "en", "photos-99-essai", tip_source(body="Bread & butter"))
    problem = only(check(content), "html")
    assert problem.path.parent.name == "en"
    assert problem.line == 9
    assert problem.message == 'a "&" on its own must be written &amp; (column 7)'


def test_unknown_placeholder(content: Path) -> None:
    body = "Bonjour {first_name} !\nLa page de {nom_commerce} et {first_nam}."
    write(content, "fr", "photos-99-essai", tip_source(body=body))
    problems = [p for p in check(content) if p.code == "unknown_placeholder"]
    assert [p.line for p in problems] == [10, 10]
    assert problems[0].message == (
        "unknown placeholder {nom_commerce} (only {first_name} and {business_name})"
    )
    assert "did you mean 'first_name'?" in problems[1].message


def test_unknown_sector(content: Path) -> None:
    write(content, "fr", "photos-99-essai", tip_source(sectors="[beaute, food]"))
    problem = only(check(content), "unknown_sector")
    assert problem.field == "sectors"
    assert problem.line == 4
    assert problem.message.startswith("unknown sector 'beaute' — did you mean 'beauty'?")
    for sector in SECTORS:
        assert sector in problem.message


def test_all_must_stand_alone(content: Path) -> None:
    write(content, "fr", "photos-99-essai", tip_source(sectors="[all, food]"))
    problem = only(check(content), "bad_value")
    assert problem.field == "sectors"
    assert "write [all] alone" in problem.message


@pytest.mark.parametrize(
    ("changes", "code", "field", "expected"),
    [
        ({"level": "4"}, "bad_level", "level", "the level is 1 (beginner), 2 or 3, not 4"),
        ({"level": "deux"}, "bad_level", "level", "not 'deux'"),
        ({"session": "9"}, "unknown_session", "session", "there is no session 9"),
        ({"link": "http://example.com"}, "bad_link", "link", "full https:// address"),
        ({"link": "www.facebook.com"}, "bad_link", "link", "full https:// address"),
        ({"extra": "tags: [x]"}, "unknown_field", "tags", "unknown field"),
        ({"extra": "lien: https://x.be"}, "unknown_field", "lien", "did you mean 'link'?"),
        ({"tip_id": "Photos 99"}, "bad_id", "id", "lowercase letters and digits"),
    ],
)
def test_front_matter_mistakes(
    content: Path, changes: dict[str, str], code: str, field: str, expected: str
) -> None:
    write(content, "fr", "photos-99-essai", tip_source(**changes))
    problems = [p for p in check(content) if p.code == code]
    assert problems, check(content)
    assert problems[0].field == field
    assert expected in problems[0].message


def test_every_tip_has_a_short_title_in_every_language(library: ContentLibrary) -> None:
    for tip in library.tips:
        assert set(tip.titles) == set(LANGUAGES), tip.id
        for lang in LANGUAGES:
            title = tip.title(lang)
            assert 0 < len(title) <= MAX_TITLE_LENGTH, (tip.id, lang)
            assert visible_text(title) == title  # plain text: it labels a button
    # The titles are translated, not copied from French.
    french = {tip.title("fr") for tip in library.tips}
    assert len({tip.title("nl") for tip in library.tips} & french) < 5


def test_the_title_comes_from_the_front_matter(content: Path) -> None:
    write(content, "nl", "photos-99-essai", tip_source(title='"Een idee"'))
    tip = load(content).tips[0]
    assert tip.title("fr") == "Une idée"
    assert tip.title("nl") == "Een idee"
    assert tip.title("de") == "Une idée"  # an unknown language falls back to French


def test_a_tip_without_a_title(content: Path) -> None:
    write(content, "en", "photos-99-essai", tip_source(title=None))
    problem = only(check(content), "missing_field")
    assert problem.path.parent.name == "en"
    assert problem.field == "title"
    assert problem.message == "the field title is missing"
    # The bot leaves such a tip out rather than show it without a label.
    assert load(content, strict=False).tips == ()


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ('"' + "x" * 41 + '"', "the title is 41 characters long; at most 40"),
        ('"  "', "a short title in plain words"),
        ("[une, liste]", "a short title in plain words"),
        ('"<b>Gras</b>"', "a title is plain text"),
        ('"Bonjour {first_name}"', "a title is plain text"),
    ],
)
def test_title_mistakes(content: Path, title: str, expected: str) -> None:
    write(content, "fr", "photos-99-essai", tip_source(title=title))
    problem = only(check(content), "bad_title")
    assert problem.field == "title"
    assert problem.line == 7
    assert expected in problem.message


def test_a_title_of_40_characters_is_fine(content: Path) -> None:
    write(content, "fr", "photos-99-essai", tip_source(title='"' + "x" * 40 + '"'))
    assert check(content) == []


def test_missing_field(content: Path) -> None:
    source = tip_source().replace("level: 1\n", "")
    write(content, "fr", "photos-99-essai", source)
    problem = only(check(content), "missing_field")
    assert problem.field == "level"
    assert problem.message == "the field level is missing"


def test_languages_must_agree(content: Path) -> None:
    write(content, "nl", "photos-99-essai", tip_source(level="2"))
    problem = only(check(content), "inconsistent")
    assert problem.path.parent.name == "nl"
    assert problem.field == "level"
    assert problem.message.startswith("2 here but 1 in the French file")


def test_link_in_text_must_be_https(content: Path) -> None:
    body = 'Voir <a href="http://example.com">ici</a>.'
    write(content, "fr", "photos-99-essai", tip_source(body=body))
    problem = only(check(content), "bad_link")
    assert 'href="http://example.com"' in problem.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Ligne<br>suivante", "<br> is not a tag Telegram accepts"),
        ("<p>Paragraphe</p>", "<p> is not a tag Telegram accepts"),
        ("<strong>gras</strong>", '<strong> is not used here; use <b>, <i>, <u>, <a href="...">'),
        ("**gras**", "this looks like Markdown"),
        ("Moins de 3 < 5", 'a "<" that does not start a tag must be written &lt;'),
        ("<i>penché</b>", "</b> closes nothing"),
    ],
)
def test_html_mistakes(content: Path, body: str, expected: str) -> None:
    write(content, "fr", "photos-99-essai", tip_source(body=body))
    problem = only(check(content), "html")
    assert expected in problem.message


def test_file_without_front_matter(content: Path) -> None:
    write(content, "fr", "photos-99-essai", VALID_BODY)
    problems = check(content)
    problem = only(problems, "front_matter")
    assert problem.line == 1
    assert "two lines of ---" in problem.message


def test_broken_yaml(content: Path) -> None:
    write(content, "fr", "photos-99-essai", tip_source(sectors="[all"))
    problem = only(check(content), "yaml")
    assert problem.line is not None
    assert "not valid YAML" in problem.message


def test_empty_text(content: Path) -> None:
    write(content, "fr", "photos-99-essai", tip_source(body="\n\n"))
    assert only(check(content), "empty_text").line == 9


def test_stray_files(content: Path) -> None:
    (content / "tips" / "fr" / "notes.txt").write_text("x", encoding="utf-8")
    (content / "tips" / "de").mkdir()
    (content / "tips" / "fr" / ".DS_Store").write_text("x", encoding="utf-8")
    problems = check(content)
    assert only(problems, "stray_file").path.name == "notes.txt"
    assert only(problems, "unknown_language").path.name == "de"


def test_curriculum_mistakes(content: Path) -> None:
    path = content / "curriculum.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("themes: [short_videos]", "themes: [short_video]")
    text = text.replace("      en: Photos and posting rhythm\n", "")
    path.write_text(text, encoding="utf-8")
    problems = check(content)
    theme = only(problems, "unknown_theme")
    assert theme.path == path
    assert theme.field == "sessions[3].themes"
    assert "did you mean 'short_videos'?" in theme.message
    missing = [p for p in problems if p.code == "curriculum"]
    assert [p.field for p in missing] == ["sessions[2].title.en"]
    assert missing[0].message == "the English text is missing"


def test_missing_curriculum(content: Path) -> None:
    (content / "curriculum.yaml").unlink()
    problems = check(content)
    assert only(problems, "missing_file").path.name == "curriculum.yaml"
    # Without a curriculum, the tip's theme and session are unknown too.
    assert {p.code for p in problems} >= {"unknown_theme", "unknown_session"}


def test_load_is_strict_by_default(content: Path) -> None:
    write(content, "fr", "photos-98-autre", tip_source("photos-98-autre", body="a & b"))
    with pytest.raises(ContentError) as raised:
        load(content)
    assert "relais content check" in str(raised.value)
    assert raised.value.problems
    # Not strict: the sound tips are kept, the broken ones left out.
    lenient = load(content, strict=False)
    assert [t.id for t in lenient.tips] == ["photos-99-essai"]


def test_content_check_command_reports_problems(
    content: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(content, "fr", "photos-99-essai", tip_source(theme="photo"))
    assert content_check_command(content) == 1
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.endswith(
        "photos-99-essai.md:3: theme: unknown theme 'photo' — did you mean 'photos'? "
        "(themes: " + ", ".join(CORE_THEMES) + ")"
    )
    assert "1 problem(s) to fix." in out
    assert "(unknown theme)" in out


def test_placeholders_constant() -> None:
    assert PLACEHOLDERS == ("first_name", "business_name")


# -- telegram_html ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "visible"),
    [
        ("plain text", "plain text"),
        ("<b>bold</b> and <i>italic</i>", "bold and italic"),
        ("<B>upper</B>", "upper"),
        ("a &lt; b &gt; c &amp; d &quot;e&quot;", 'a < b > c & d "e"'),
        ("caf&#233; &#xE9;t&#XE9;", "café été"),
        ('<a href="https://x.be/?a=1&b=2">link</a>', "link"),
        ("<a href='https://x.be'>single quotes</a>", "single quotes"),
        ("<b><i><u>nested</u></i></b>", "nested"),
        ("<blockquote>quote\nline two</blockquote>", "quote\nline two"),
        ("<blockquote expandable>long</blockquote>", "long"),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1"),
        ('<span class="tg-spoiler">secret</span> <tg-spoiler>too</tg-spoiler>', "secret too"),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍"),
        ("<s>struck</s><del>del</del><strike>old</strike><ins>ins</ins>", "struckdeloldins"),
        ("<b>a</b >", "a"),
        ("line one\nline two", "line one\nline two"),
        ("", ""),
    ],
)
def test_valid_html(html: str, visible: str) -> None:
    assert validate_html(html) is None
    assert visible_text(html) == visible
    # What passes here, Telegram (as re-implemented by the sandbox) accepts with the same text.
    assert parse_html(html)[0] == visible


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<b>unclosed", "line 1, column 1: <b> is never closed: add </b> where it should end"),
        ("ok\n  <i>x", "line 2, column 3: <i> is never closed"),
        ("a & b", 'line 1, column 3: a "&" on its own must be written &amp;'),
        ("&amp", 'a "&" on its own must be written &amp;'),
        ("&nbsp;", "Telegram does not know &nbsp;"),
        ("&eacute;", "Telegram does not know &eacute;"),
        ("&#0;", "&#0; is not a valid character number"),
        ("&#xD800;", "&#xD800; is not a valid character number"),
        ("1 < 2", 'a "<" that does not start a tag must be written &lt;'),
        ("2 > 1", 'a ">" that is not part of a tag must be written &gt;'),
        ("<!-- comment -->", 'a "<" that does not start a tag'),
        ("<br>", "<br> is not a tag Telegram accepts (for a line break, just start a new line)"),
        ("x<br/>", "<br/> is not accepted: Telegram has no self-closing tags"),
        ("<p>x</p>", "<p> is not a tag Telegram accepts"),
        ("<div>x</div>", "<div> is not a tag Telegram accepts"),
        ("<b><i>x</b></i>", "</b> comes before </i>: close <i> (opened line 1, column 4) first"),
        ("</b>", "</b> closes nothing: no <b> is open here"),
        ("</ b>", "a closing tag must look like </b>"),
        ("<a href=https://x.be>x</a>", 'put the value of href in double quotes: <a href="...">'),
        ('<a href="https://x.be>x</a>', "the value of href in <a> is never closed"),
        ("<a>x</a>", '<a> needs href: <a href="https://...">'),
        ('<a href="">x</a>', "<a> needs href"),
        ('<a href="https://x.be" title="t">x</a>', "<a> does not accept title (only href)"),
        ('<b class="x">y</b>', "<b> takes no attribute (remove class)"),
        ('<b x="1" x="2">y</b>', "<b> has x twice"),
        ("<span>s</span>", "<span> needs class"),
        ('<span class="red">s</span>', '<span> is only accepted as <span class="tg-spoiler">'),
        ('<blockquote expandable="yes">q</blockquote>', "write <blockquote expandable> without"),
        ("<code><b>x</b></code>", "no tag can go inside <code> (opened line 1, column 1)"),
        ("<pre><b>x</b></pre>", "no tag can go inside <pre>"),
        ('<a href="https://a.be"><a href="https://b.be">x</a></a>', "<a> cannot go inside a link"),
        ("<blockquote><blockquote>q</blockquote></blockquote>", "cannot go inside another"),
        ("<b", 'the tag <b is never finished with ">"'),
        ('<b "x">y</b>', 'unexpected """ inside the tag <b>'),
    ],
)
def test_invalid_html(html: str, error: str) -> None:
    result = validate_html(html)
    assert result is not None
    assert error in result


def test_allowed_tags_narrow_the_choice() -> None:
    assert validate_html("<s>x</s>") is None
    error = validate_html("<s>x</s>", allowed_tags={"b", "i"})
    assert error == "line 1, column 1: <s> is not used here; use <b>, <i>"


def test_inspect_html_returns_links_and_the_first_error() -> None:
    result = inspect_html(
        '<a href="https://a.be/?x=1&amp;y=2">a</a> & <a href="https://b.be">b</a>'
    )
    assert result.links == ("https://a.be/?x=1&y=2", "https://b.be")
    assert result.error is not None
    assert (result.error.line, result.error.column) == (1, 43)
    assert result.visible == "a & b"


def test_visible_text_is_a_best_effort_on_invalid_html() -> None:
    assert visible_text("<b>bold & <i>x</b>") == "bold & x"
    assert visible_text("1 < 2") == "1 < 2"


def test_telegram_length_counts_utf16_units() -> None:
    assert telegram_length("abc") == 3
    assert telegram_length("é") == 1
    assert telegram_length("👍") == 2


# -- the practices checklist (content/practices.yaml) ----------------------------------------


def test_the_real_practices_are_loaded_in_order_with_their_themes(library: ContentLibrary) -> None:
    assert 8 <= len(library.practices) <= 10
    assert library.practices[0].id == "weekly_post"
    for practice in library.practices:
        assert practice.theme in library.themes
        assert library.tips_for(theme=practice.theme), practice.id
        assert all(practice.text(lang) for lang in LANGUAGES)
    assert library.practice("short_video") is not None
    assert library.practice("nope") is None


def _practices(root: Path, body: str) -> None:
    (root / "practices.yaml").write_text(body, encoding="utf-8")


def test_a_practice_with_an_unknown_theme_is_reported_and_left_out(content: Path) -> None:
    _practices(
        content,
        "practices:\n  - {id: one, theme: photoz, fr: Un, nl: Een, en: One}\n"
        "  - {id: two, theme: photos, fr: Deux, nl: Twee, en: Two}\n",
    )
    problem = only(check(content), "unknown_theme")
    assert "photos" in problem.message
    assert [p.id for p in load(content, strict=False).practices] == ["two"]


@pytest.mark.parametrize(
    ("entries", "code"),
    [
        ("  - {id: one, theme: photos, fr: Un, nl: Een, en: One}\n" * 2, "duplicate_id"),
        ("  - {id: One-x, theme: photos, fr: Un, nl: Een, en: One}\n", "bad_id"),
        ("  - {id: one, theme: photos, fr: " + "x" * 61 + ", nl: Een, en: One}\n", "too_long"),
        ("  - {id: one, theme: photos, fr: Un, nl: Een}\n", "curriculum"),
    ],
)
def test_an_unsound_practice_is_reported(content: Path, entries: str, code: str) -> None:
    _practices(content, "practices:\n" + entries)
    only(check(content), code)


def test_a_missing_practices_file_is_reported(content: Path) -> None:
    (content / "practices.yaml").unlink()
    assert only(check(content), "missing_file").path.name == "practices.yaml"
