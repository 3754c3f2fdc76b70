"""Telegram's HTML parse mode as the sandbox checks it: entities, offsets, refusals."""

from __future__ import annotations

import pytest

from bot.sandbox.entities import EntityParseError, finalize_text, parse_html, utf16_len


def test_plain_text_and_entities_with_utf16_offsets() -> None:
    plain, entities = parse_html(
        '👋 <b>Bonjour</b> <a href="https://relais.be/?a=1&amp;b=2">ici</a>'
    )
    assert plain == "👋 Bonjour ici"
    # the emoji is two UTF-16 units: "Bonjour" starts at 3
    assert entities == [
        {"type": "bold", "offset": 3, "length": 7},
        {"type": "text_link", "offset": 11, "length": 3, "url": "https://relais.be/?a=1&b=2"},
    ]


def test_nested_tags_and_special_entities() -> None:
    html = (
        "<b>gras <i>et italique</i></b> &lt;tag&gt; &quot;q&quot; &#233;&#x1F600; "
        '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler> '
        '<pre><code class="language-python">x = 1</code></pre> '
        "<blockquote expandable>citation</blockquote> "
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    plain, entities = parse_html(html)
    assert plain.startswith('gras et italique <tag> "q" é😀 st x = 1 citation 👍')
    kinds = [e["type"] for e in entities]
    assert kinds == [
        "bold",
        "italic",
        "spoiler",
        "spoiler",
        "pre",
        "expandable_blockquote",
        "custom_emoji",
    ]
    pre = next(e for e in entities if e["type"] == "pre")
    assert pre["language"] == "python"


@pytest.mark.parametrize(
    ("html", "message"),
    [
        ("<b>gras", 'Can\'t find end tag corresponding to start tag "b"'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("ligne<br/>suite", 'Unsupported start tag "br/" at byte offset 5'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b><i>x</b></i>", "Unmatched end tag"),
        ("Café & Co", 'Unescaped "&" at byte offset 6'),
        ("&nbsp;", 'Unescaped "&"'),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler"'),
        ('<a href="https://x.org>lien</a>', "Unclosed start tag"),
        ("<a href>x</a>", "Expected equal sign"),
    ],
)
def test_malformed_html_is_refused(html: str, message: str) -> None:
    with pytest.raises(EntityParseError) as excinfo:
        parse_html(html)
    assert message in str(excinfo.value)


def test_bare_ampersand_tolerated_when_not_strict() -> None:
    assert parse_html("Café & Co", strict_ampersand=False) == ("Café & Co", [])


def test_empty_entities_dropped_and_invalid_links_ignored() -> None:
    plain, entities = parse_html('<b></b>x <a href="javascript:alert(1)">y</a>')
    assert plain == "x y"
    assert entities == []


def test_finalize_trims_like_telegram() -> None:
    plain, entities = parse_html("\n  <b> gras </b>  \n")
    plain, entities = finalize_text(plain, entities)
    assert plain == "gras"
    assert entities == [{"type": "bold", "offset": 0, "length": 4}]


def test_utf16_len() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("é") == 1
    assert utf16_len("🇫🇷") == 4
