"""Telegram's HTML parse mode, checked before Telegram sees it.

Pure functions, no `telegram` import: use them wherever a text is written for
``parse_mode=HTML`` (the content check, the sandbox Bot API, broadcast previews).

- ``validate_html(text)`` returns ``None`` when Telegram would accept the text, or the first
  error as one sentence that says where ("line 3, column 12: ...") and how to fix it.
- ``visible_text(text)`` is what the reader sees: tags removed, entities decoded. For a text
  that ``validate_html`` rejects it is a best effort (the faulty character is kept as text).
- ``inspect_html(text)`` does both in one pass and also returns the links (``href`` values).
- ``telegram_length(text)`` counts like Telegram's 4096/1024 limits (UTF-16 code units).

The rules are those of the Bot API's "HTML style" (core.telegram.org/bots/api#html-style):

- tags: ``b strong i em u ins s strike del span tg-spoiler a tg-emoji code pre blockquote``
  (names are case-insensitive); ``<a href="...">``, ``<span class="tg-spoiler">``,
  ``<tg-emoji emoji-id="...">``, ``<code class="language-...">``, ``<blockquote expandable>``;
  no ``<br>``, no ``<p>``: a new line is a line break;
- every tag is closed, in order (``<b><i>..</i></b>``);
- nesting: nothing inside ``<code>`` or ``<pre>`` (except ``<pre><code class=..>``), no link
  inside a link, no quote inside a quote;
- ``<``, ``>`` and ``&`` that are not part of a tag or an entity are written ``&lt;``, ``&gt;``,
  ``&amp;``; the only named entities are ``&lt; &gt; &amp; &quot;``, plus numeric ones
  (``&#233;``, ``&#xE9;``).

It is a little stricter than Telegram's own parser where Telegram guesses: attribute values
must be quoted, unknown attributes are refused, and entities need their ``;``. A text that
passes here is always accepted by Telegram.

``html.parser`` is not used on purpose: it is lenient by design (it accepts a lone ``<``,
unknown entities such as ``&nbsp;``, unclosed tags) and so cannot tell what Telegram refuses.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

# In the order they are listed to a writer.
_TAG_NAMES = (
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "tg-emoji", "code", "pre", "blockquote",
)  # fmt: skip
TELEGRAM_TAGS: frozenset[str] = frozenset(_TAG_NAMES)

# The attributes each tag accepts; the required ones are listed in _REQUIRED_ATTRIBUTES.
_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href"}),
    "span": frozenset({"class"}),
    "tg-emoji": frozenset({"emoji-id"}),
    "code": frozenset({"class"}),
    "blockquote": frozenset({"expandable"}),
}
_REQUIRED_ATTRIBUTES: dict[str, str] = {"a": "href", "span": "class", "tg-emoji": "emoji-id"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NO_CHILDREN = frozenset({"code", "pre"})

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z_:][-A-Za-z0-9_:.]*")
_END_TAG = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>")
_ENTITY = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9A-Fa-f]{1,7})|([A-Za-z][A-Za-z0-9]{0,31}));")
_SPACE = " \t\r\n\f"


@dataclass(frozen=True)
class HtmlError:
    """Where and why Telegram would refuse a text (line and column start at 1)."""

    message: str
    line: int
    column: int
    offset: int

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


@dataclass(frozen=True)
class HtmlCheck:
    """The result of reading one text: what is shown, the first error, the links."""

    visible: str
    error: HtmlError | None
    links: tuple[str, ...]


@dataclass
class _Open:
    name: str
    offset: int


def validate_html(text: str, *, allowed_tags: Collection[str] = TELEGRAM_TAGS) -> str | None:
    """The first reason Telegram would refuse `text` in HTML parse mode, or None if valid.

    `allowed_tags` narrows the accepted tags (e.g. the tips allow only a few of them).
    """
    error = inspect_html(text, allowed_tags=allowed_tags).error
    return None if error is None else str(error)


def visible_text(html: str) -> str:
    """The text as the reader sees it: tags removed and entities decoded."""
    return inspect_html(html).visible


def telegram_length(text: str) -> int:
    """The length as Telegram counts it for its limits (UTF-16 code units: an emoji is 2)."""
    return len(text.encode("utf-16-le")) // 2


def inspect_html(text: str, *, allowed_tags: Collection[str] = TELEGRAM_TAGS) -> HtmlCheck:
    """Read `text` once: its visible text, the first error (or None) and the links."""
    return _Reader(text, frozenset(allowed_tags)).read()


def _describe(tags: Collection[str]) -> str:
    shown = [
        '<a href="...">' if name == "a" else f"<{name}>" for name in _TAG_NAMES if name in tags
    ]
    return ", ".join(shown)


class _Reader:
    def __init__(self, text: str, allowed: frozenset[str]) -> None:
        self.text = text
        self.allowed = allowed & TELEGRAM_TAGS
        self.visible: list[str] = []
        self.links: list[str] = []
        self.stack: list[_Open] = []
        self.error: HtmlError | None = None

    # -- reporting --------------------------------------------------------------------------

    def where(self, offset: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return line, column

    def fail(self, offset: int, message: str) -> None:
        if self.error is None:
            line, column = self.where(offset)
            self.error = HtmlError(message, line, column, offset)

    def opened_at(self, tag: _Open) -> str:
        line, column = self.where(tag.offset)
        return f"line {line}, column {column}"

    # -- reading ----------------------------------------------------------------------------

    def read(self) -> HtmlCheck:
        text = self.text
        i = 0
        while i < len(text):
            char = text[i]
            if char == "<":
                i = self.tag(i)
            elif char == "&":
                i = self.entity(i)
            elif char == ">":
                self.fail(i, 'a ">" that is not part of a tag must be written &gt;')
                self.visible.append(char)
                i += 1
            else:
                end = i
                while end < len(text) and text[end] not in "<&>":
                    end += 1
                self.visible.append(text[i:end])
                i = end
        for tag in reversed(self.stack):
            self.fail(
                tag.offset, f"<{tag.name}> is never closed: add </{tag.name}> where it should end"
            )
        return HtmlCheck("".join(self.visible), self.error, tuple(self.links))

    def entity(self, i: int) -> int:
        match = _ENTITY.match(self.text, i)
        if match is None:
            self.fail(i, 'a "&" on its own must be written &amp;')
            self.visible.append("&")
            return i + 1
        decimal, hexadecimal, name = match.groups()
        if name is not None:
            if name not in _NAMED_ENTITIES:
                self.fail(
                    i,
                    f"Telegram does not know &{name}; (only &lt; &gt; &amp; &quot; and numeric "
                    "ones such as &#233;): type the character itself",
                )
                self.visible.append(match.group(0))
                return match.end()
            self.visible.append(_NAMED_ENTITIES[name])
            return match.end()
        code = int(decimal) if decimal is not None else int(hexadecimal, 16)
        if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            self.fail(i, f"{match.group(0)} is not a valid character number")
            self.visible.append(match.group(0))
            return match.end()
        self.visible.append(chr(code))
        return match.end()

    def literal_lt(self, i: int, message: str) -> int:
        self.fail(i, message)
        self.visible.append("<")
        return i + 1

    def tag(self, i: int) -> int:
        text = self.text
        if text.startswith("</", i):
            match = _END_TAG.match(text, i)
            if match is None:
                return self.literal_lt(
                    i, 'a closing tag must look like </b>; a "<" on its own must be written &lt;'
                )
            self.close(i, match.group(1).lower())
            return match.end()
        name_match = _TAG_NAME.match(text, i + 1)
        if name_match is None:
            return self.literal_lt(
                i, 'a "<" that does not start a tag must be written &lt; (e.g. "&lt; 3")'
            )
        name = name_match.group(0).lower()
        attributes: dict[str, str | None] = {}
        j = name_match.end()
        while True:
            while j < len(text) and text[j] in _SPACE:
                j += 1
            if j >= len(text):
                return self.literal_lt(i, f'the tag <{name} is never finished with ">"')
            if text[j] == ">":
                j += 1
                break
            if text.startswith("/>", j):
                return self.literal_lt(
                    i,
                    f"<{name}/> is not accepted: Telegram has no self-closing tags"
                    + (" (for a line break, just start a new line)" if name == "br" else ""),
                )
            attribute = _ATTRIBUTE_NAME.match(text, j)
            if attribute is None:
                return self.literal_lt(i, f'unexpected "{text[j]}" inside the tag <{name}>')
            key = attribute.group(0).lower()
            j = attribute.end()
            while j < len(text) and text[j] in _SPACE:
                j += 1
            value: str | None = None
            if j < len(text) and text[j] == "=":
                j += 1
                while j < len(text) and text[j] in _SPACE:
                    j += 1
                if j >= len(text) or text[j] not in "\"'":
                    return self.literal_lt(
                        i, f'put the value of {key} in double quotes: <{name} {key}="...">'
                    )
                quote = text[j]
                end = text.find(quote, j + 1)
                if end < 0:
                    return self.literal_lt(
                        i, f"the value of {key} in <{name}> is never closed with {quote}"
                    )
                value = _decode_attribute(text[j + 1 : end])
                j = end + 1
            if key in attributes:
                return self.literal_lt(i, f"<{name}> has {key} twice")
            attributes[key] = value
        self.open(i, name, attributes)
        return j

    def open(self, i: int, name: str, attributes: dict[str, str | None]) -> None:
        if name not in self.allowed:
            hint = " (for a line break, just start a new line)" if name in ("br", "p") else ""
            if name in TELEGRAM_TAGS:
                self.fail(i, f"<{name}> is not used here{hint}; use {_describe(self.allowed)}")
            else:
                self.fail(
                    i,
                    f"<{name}> is not a tag Telegram accepts{hint}; use {_describe(self.allowed)}",
                )
        else:
            self.check_attributes(i, name, attributes)
            self.check_nesting(i, name, attributes)
        if name == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")
        self.stack.append(_Open(name, i))

    def check_attributes(self, i: int, name: str, attributes: dict[str, str | None]) -> None:
        accepted = _ATTRIBUTES.get(name, frozenset())
        for key, value in attributes.items():
            if key not in accepted:
                if accepted:
                    self.fail(i, f"<{name}> does not accept {key} (only {', '.join(accepted)})")
                else:
                    self.fail(i, f"<{name}> takes no attribute (remove {key})")
                return
            if key == "expandable" and value is not None:
                self.fail(i, "write <blockquote expandable> without a value")
                return
            if key != "expandable" and value is None:
                self.fail(i, f'{key} in <{name}> needs a value: {key}="..."')
                return
        required = _REQUIRED_ATTRIBUTES.get(name)
        if required is not None and not (attributes.get(required) or "").strip():
            example = {
                "a": '<a href="https://...">',
                "span": '<span class="tg-spoiler">',
                "tg-emoji": '<tg-emoji emoji-id="...">',
            }[name]
            self.fail(i, f"<{name}> needs {required}: {example}")
            return
        if name == "span" and attributes.get("class") != "tg-spoiler":
            self.fail(i, '<span> is only accepted as <span class="tg-spoiler">')
        elif name == "code" and not (attributes.get("class") or "language-x").startswith(
            "language-"
        ):
            self.fail(i, '<code class="..."> only takes a language: class="language-python"')

    def check_nesting(self, i: int, name: str, attributes: dict[str, str | None]) -> None:
        if not self.stack:
            return
        parent = self.stack[-1]
        for tag in self.stack:
            if tag.name in _NO_CHILDREN and not (
                name == "code" and tag is parent and parent.name == "pre"
            ):
                self.fail(i, f"no tag can go inside <{tag.name}> (opened {self.opened_at(tag)})")
                return
            if tag.name == "a" and name in ("a", "code", "pre", "blockquote"):
                self.fail(i, f"<{name}> cannot go inside a link (opened {self.opened_at(tag)})")
                return
            if tag.name == "blockquote" and name == "blockquote":
                self.fail(
                    i, f"a <blockquote> cannot go inside another (opened {self.opened_at(tag)})"
                )
                return

    def close(self, i: int, name: str) -> None:
        if not self.stack or all(tag.name != name for tag in self.stack):
            self.fail(i, f"</{name}> closes nothing: no <{name}> is open here")
            return
        top = self.stack[-1]
        if top.name != name:
            self.fail(
                i,
                f"</{name}> comes before </{top.name}>: close <{top.name}> "
                f"(opened {self.opened_at(top)}) first",
            )
            while self.stack and self.stack[-1].name != name:
                self.stack.pop()
        self.stack.pop()


def _decode_attribute(value: str) -> str:
    """Decode the entities of an attribute value; other "&" stay as they are (like Telegram)."""

    def replace(match: re.Match[str]) -> str:
        decimal, hexadecimal, name = match.groups()
        if name is not None:
            return _NAMED_ENTITIES.get(name, match.group(0))
        code = int(decimal) if decimal is not None else int(hexadecimal, 16)
        if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return match.group(0)
        return chr(code)

    return _ENTITY.sub(replace, value)
