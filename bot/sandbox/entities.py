"""Telegram's text formatting, re-implemented for the sandbox Bot API.

`parse_html` turns a ``parse_mode=HTML`` text into the plain text and the MessageEntity list that
Telegram would store, and rejects what Telegram rejects with the same kind of description
(``can't parse entities: Unsupported start tag "br" at byte offset 12``). The scanner follows the
rules of tdlib's ``parse_html`` (the server-side implementation used by the Bot API): the same
supported tags, attribute syntax, HTML entities, byte offsets in error messages, empty entities
dropped, entities sorted by offset.

One deliberate difference: a bare ``&`` that does not start one of the four named entities or a
numeric one is rejected (``strict_ampersand=True``). Telegram's documentation requires it to be
escaped, but the server silently tolerates it; the sandbox is stricter so that unescaped user
input (``Café & Co``) is caught in tests before it meets a ``<`` in production.

Offsets and lengths are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "EntityParseError",
    "finalize_text",
    "parse_html",
    "utf16_len",
]

Entity = dict[str, Any]


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(error)`` is Telegram's wording."""


_SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)

_SIMPLE_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
}

_SPECIAL = re.compile(r"[<&]")
_HTML_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# Characters tdlib treats as spaces inside tags.
_TAG_SPACE = frozenset(" \t\r\n\x0b\x0c")
# What Telegram strips from both ends of a message text or caption.
_TRIM = " \t\r\n\x0b\x0c"
_URL_SCHEME = re.compile(r"^(?:https?|tg|ton|tonsite)://", re.IGNORECASE)
_BARE_DOMAIN = re.compile(r"^[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}(?:[/?#:].*)?$")


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units (the unit of Bot API entity offsets)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, pos: int) -> int:
    # Only computed on the error path: tdlib reports UTF-8 byte offsets.
    return len(text[:pos].encode("utf-8"))


def _decode_entity(match: re.Match[str]) -> str | None:
    named, dec, hexa = match.groups()
    if named is not None:
        return _NAMED[named]
    code = int(dec, 10) if dec is not None else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _href_entity(href: str, offset: int, length: int) -> Entity | None:
    """The entity of ``<a href=...>``, or None when Telegram would drop it silently."""
    url = href.strip()
    if not url:
        return None
    if _URL_SCHEME.match(url):
        return {"type": "text_link", "offset": offset, "length": length, "url": url}
    if _BARE_DOMAIN.match(url):
        # Telegram accepts scheme-less links and normalises them to http://
        return {"type": "text_link", "offset": offset, "length": length, "url": "http://" + url}
    return None


class _Open:
    __slots__ = ("arg", "begin", "tag")

    def __init__(self, tag: str, arg: str, begin: int) -> None:
        self.tag = tag
        self.arg = arg
        self.begin = begin


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[Entity]]:
    """Parse Telegram HTML into (plain text, entities). Raises EntityParseError.

    The plain text is *not* trimmed; see `finalize_text`.
    """
    out: list[str] = []
    utf16 = 0
    stack: list[_Open] = []
    entities: list[Entity] = []
    # language of a <code class="language-x"> entity, by identity, to merge into its <pre>
    languages: dict[int, str] = {}
    n = len(text)
    pos = 0
    while True:
        match = _SPECIAL.search(text, pos)
        end = match.start() if match is not None else n
        if end > pos:
            chunk = text[pos:end]
            out.append(chunk)
            utf16 += utf16_len(chunk)
        if match is None:
            break
        pos = end
        if text[pos] == "&":
            ent = _HTML_ENTITY.match(text, pos)
            char = _decode_entity(ent) if ent is not None else None
            if char is None or ent is None:
                if strict_ampersand:
                    raise EntityParseError(
                        f'Unescaped "&" at byte offset {_byte_offset(text, pos)}: '
                        "use &amp; (the sandbox requires it, as the Bot API documentation does)"
                    )
                char = "&"
                pos += 1
            else:
                pos = ent.end()
            out.append(char)
            utf16 += 2 if ord(char) > 0xFFFF else 1
            continue

        begin = pos
        if pos + 1 < n and text[pos + 1] == "/":
            pos = _close_tag(text, pos, begin, stack, entities, languages, utf16, out)
            continue

        # a start tag
        i = pos + 1
        while i < n and text[i] not in _TAG_SPACE and text[i] != ">":
            i += 1
        tag = text[pos + 1 : i].lower()
        if tag not in _SUPPORTED_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
            )
        arg, i = _attributes(text, i, tag, begin)
        if tag == "span" and arg != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(text, begin)}"
            )
        if tag == "tg-emoji" and not arg:
            raise EntityParseError(
                f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                f"{_byte_offset(text, begin)}"
            )
        stack.append(_Open(tag, arg, utf16))
        pos = i + 1  # past '>'

    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _attributes(text: str, i: int, tag: str, begin: int) -> tuple[str, int]:
    """Read the attributes of a start tag from `i`; return (argument, index of '>')."""
    n = len(text)
    arg = ""
    while True:
        while i < n and text[i] in _TAG_SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(
                f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
            )
        if text[i] == ">":
            return arg, i
        name_begin = i
        while i < n and text[i] not in _TAG_SPACE and text[i] not in "=>":
            i += 1
        name = text[name_begin:i].lower()
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset '
                f"{_byte_offset(text, begin)}"
            )
        while i < n and text[i] in _TAG_SPACE:
            i += 1
        if i >= n or text[i] != "=":
            if tag == "blockquote" and name == "expandable":
                arg = "expandable"
                continue
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                f"at byte offset {_byte_offset(text, begin)}"
            )
        i += 1
        while i < n and text[i] in _TAG_SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(
                f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
            )
        if text[i] in "'\"":
            quote = text[i]
            i += 1
            parts: list[str] = []
            while i < n and text[i] != quote:
                if text[i] == "&":
                    ent = _HTML_ENTITY.match(text, i)
                    char = _decode_entity(ent) if ent is not None else None
                    if char is not None and ent is not None:
                        parts.append(char)
                        i = ent.end()
                        continue
                parts.append(text[i])
                i += 1
            if i >= n:
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(text, name_begin)}"
                )
            i += 1  # past the closing quote
            value = "".join(parts)
        else:
            # An unquoted name token: letters, digits, '.' and '-', case-insensitive (tdlib).
            token_begin = i
            while i < n and (text[i].isalnum() or text[i] in ".-"):
                i += 1
            value = text[token_begin:i].lower()
            if i >= n or (text[i] not in _TAG_SPACE and text[i] != ">"):
                raise EntityParseError(
                    f"Unexpected end of name token at byte offset {_byte_offset(text, token_begin)}"
                )
        if tag == "a" and name == "href":
            arg = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            arg = value[len("language-") :]
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            arg = value[len("tg-") :]
        elif tag == "tg-emoji" and name == "emoji-id":
            arg = value
        elif tag == "blockquote" and name == "expandable":
            arg = "expandable"


def _close_tag(
    text: str,
    pos: int,
    begin: int,
    stack: list[_Open],
    entities: list[Entity],
    languages: dict[int, str],
    utf16: int,
    out: list[str],
) -> int:
    """Handle ``</tag>`` at `pos`; append its entity; return the index after '>'."""
    n = len(text)
    if not stack:
        raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
    i = pos + 2
    while i < n and text[i] not in _TAG_SPACE and text[i] != ">":
        i += 1
    end_name = text[pos + 2 : i].lower()
    while i < n and text[i] in _TAG_SPACE:
        i += 1
    if i >= n or text[i] != ">":
        raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
    opened = stack.pop()
    if end_name and end_name != opened.tag:
        raise EntityParseError(
            f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
            f'expected "</{opened.tag}>", found "</{end_name}>"'
        )
    length = utf16 - opened.begin
    if length > 0:
        tag = opened.tag
        offset = opened.begin
        entity: Entity | None
        if tag in _SIMPLE_ENTITY:
            entity = {"type": _SIMPLE_ENTITY[tag], "offset": offset, "length": length}
            if tag == "code" and opened.arg:
                languages[id(entity)] = opened.arg
        elif tag == "a":
            href = opened.arg
            if not href:
                # tdlib uses the link's own text as URL when href is missing
                href = _tail_text(out, length)
            entity = _href_entity(href, offset, length)
        elif tag == "pre":
            entity = {"type": "pre", "offset": offset, "length": length}
            if entities:
                last = entities[-1]
                lang = languages.get(id(last))
                if (
                    lang is not None
                    and last["type"] == "code"
                    and last["offset"] == offset
                    and last["length"] == length
                ):
                    # <pre><code class="language-x">…</code></pre> is one pre entity
                    entities.pop()
                    entity["language"] = lang
        elif tag == "blockquote":
            kind = "expandable_blockquote" if opened.arg else "blockquote"
            entity = {"type": kind, "offset": offset, "length": length}
        else:  # tg-emoji
            entity = {
                "type": "custom_emoji",
                "offset": offset,
                "length": length,
                "custom_emoji_id": opened.arg,
            }
        if entity is not None:
            entities.append(entity)
    return i + 1


def _tail_text(out: list[str], units: int) -> str:
    """The last `units` UTF-16 units of the text produced so far."""
    text = "".join(out)
    encoded = text.encode("utf-16-le")
    return encoded[len(encoded) - 2 * units :].decode("utf-16-le", errors="replace")


def finalize_text(plain: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Trim the text like Telegram does and clip the entities to what is left."""
    stripped = plain.strip(_TRIM)
    if stripped == plain:
        return plain, entities
    lead = utf16_len(plain[: len(plain) - len(plain.lstrip(_TRIM))])
    total = utf16_len(stripped)
    clipped: list[Entity] = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(total, entity["offset"] + entity["length"] - lead)
        if end > start:
            clipped.append({**entity, "offset": start, "length": end - start})
    return stripped, clipped
