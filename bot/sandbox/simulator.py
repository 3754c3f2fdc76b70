"""The user simulator: end-to-end tests written as conversations with the real bot.

    alice = sandbox.user(1001, "Alice", language_code="fr")
    await alice.send("/start join_ABC123")
    await alice.expect("Bienvenue")
    await alice.click("🇫🇷 Français")
    await alice.tap("Mes objectifs")
    await alice.follow("https://t.me/relais_test_bot?start=checkin_xyz")

Each action builds the update a Telegram client would send (a command with its ``bot_command``
entity, a ``callback_query`` carrying the button's data, a photo with its file...), queues it in
the sandbox Bot API, and returns once the bot has *finished reacting* to it, so tests need no
sleeps and stay deterministic:

1. wait until the bot fetched the update (a getUpdates answer or a webhook POST handed it over);
2. then wait until the bot is quiet: no Bot API request in flight, none for `quiet` seconds
   (default 30 ms), and - when the simulator watches the PTB Application (`Simulator.watch`) -
   nothing left in the application's update queue nor being processed. Bounded by `timeout`
   (default 5 s).

Replies that come later (a scheduled job, the outbox dispatcher) are awaited with `expect`, which
waits for a matching message. Reading the inbox: `expect` looks at what arrived (or was edited)
since the user's last action and was not matched by an earlier `expect`; `expect_nothing` checks
that nothing unmatched arrived since the last action.
"""

from __future__ import annotations

import logging
import re
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlsplit

from bot.sandbox.entities import utf16_len
from bot.sandbox.records import (
    Button,
    CallbackQueryRecord,
    GroupState,
    InboxEvent,
    SentMessage,
    SimUserState,
    keyboard_buttons,
)
from bot.sandbox.server import PendingUpdate, SandboxBot, SandboxBotAPI, image_size

if TYPE_CHECKING:
    from telegram.ext import Application

__all__ = ["SimGroup", "SimUser", "Simulator", "text_entities", "tiny_png"]

_log = logging.getLogger(__name__)

Json = dict[str, Any]
Pattern = str | re.Pattern[str] | None
Kind = Literal["text", "photo", "document", "sticker", "voice", "location", "contact"]

_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_AUTO_ENTITIES = re.compile(
    r"(?P<bot_command>(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@]))"
    r"|(?P<url>\bhttps?://[^\s<>\"]+|\bt\.me/[^\s<>\"]+)"
    r"|(?P<mention>(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b)"
    r"|(?P<hashtag>(?<![\w#])#\w*[^\W\d_]\w*)"
)


def text_entities(text: str) -> list[Json]:
    """The entities a Telegram client attaches to a typed text (commands, URLs, mentions,
    hashtags), offsets in UTF-16 units."""
    entities: list[Json] = []
    for match in _AUTO_ENTITIES.finditer(text):
        kind = match.lastgroup
        assert kind is not None
        start, end = match.span()
        entities.append(
            {
                "type": kind,
                "offset": utf16_len(text[:start]),
                "length": utf16_len(text[start:end]),
            }
        )
    return entities


def tiny_png(width: int = 4, height: int = 4, rgb: tuple[int, int, int] = (255, 64, 0)) -> bytes:
    """A valid PNG image (what simulated users send as photos)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def parse_deep_link(url: str) -> tuple[str, str | None]:
    """(bot username, start payload or None) of a t.me / telegram.me / tg://resolve link."""
    target = url if "://" in url else "https://" + url
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    if parts.scheme == "tg":
        if parts.netloc != "resolve" or "domain" not in query:
            raise AssertionError(f"{url!r} is not a tg://resolve?domain=... link")
        username = query["domain"][0]
    elif parts.netloc.lower() in ("t.me", "telegram.me", "www.t.me", "telegram.dog"):
        username = parts.path.strip("/").split("/", 1)[0]
    else:
        raise AssertionError(f"{url!r} is not a Telegram link (t.me/<bot>?start=...)")
    if "startgroup" in query or "startapp" in query:
        raise AssertionError(f"{url!r}: only ?start= deep links are simulated")
    payload = query["start"][0] if "start" in query else None
    return username, payload


def _pattern_text(pattern: Pattern) -> str:
    if pattern is None:
        return "any message"
    if isinstance(pattern, re.Pattern):
        return f"a message matching /{pattern.pattern}/"
    return f"a message containing {pattern!r}"


def _matches(pattern: Pattern, text: str) -> bool:
    if pattern is None:
        return True
    if isinstance(pattern, re.Pattern):
        return pattern.search(text) is not None
    return pattern in text


def _pick(buttons: Sequence[Button], text: str, where: str) -> Button | None:
    """The button whose text is `text`, else the only one containing it."""
    for button in buttons:
        if button.text == text:
            return button
    partial = [b for b in buttons if text in b.text]
    if len(partial) > 1:
        labels = ", ".join(repr(b.text) for b in partial)
        raise AssertionError(f"{text!r} matches several buttons {where}: {labels}")
    return partial[0] if partial else None


def _summary(message: SentMessage, plain: str | None = None) -> str:
    text = message.plain if plain is None else plain
    shown = text if len(text) <= 160 else text[:157] + "..."
    line = f"#{message.message_id} {message.kind}"
    if message.deleted:
        line += " (deleted)"
    line += f": {shown!r}"
    if message.buttons:
        line += "  buttons: " + " | ".join(" · ".join(row) for row in message.buttons)
    keyboard = message.reply_keyboard
    if keyboard:
        line += "  keyboard: " + " | ".join(" · ".join(b.text for b in row) for row in keyboard)
    return line


class Simulator:
    """Simulated Telegram users talking to one bot of a `SandboxBotAPI`."""

    def __init__(
        self,
        sandbox: SandboxBotAPI,
        *,
        token: str | None = None,
        app: Application[Any, Any, Any, Any, Any, Any] | None = None,
        quiet: float = 0.03,
        timeout: float = 5.0,
        strict_callbacks: bool = False,
    ) -> None:
        self.sandbox = sandbox
        self.token = token
        #: seconds without any Bot API request after which the bot is considered done
        self.quiet = quiet
        #: the longest an action (or `expect`) waits
        self.timeout = timeout
        #: fail a click whose callback query the bot did not answer
        self.strict_callbacks = strict_callbacks
        self._probes: list[Callable[[], bool]] = []
        self._pending: list[PendingUpdate] = []
        self._users: dict[int, SimUser] = {}
        self._groups: dict[int, SimGroup] = {}
        if app is not None:
            self.watch(app)

    @property
    def bot(self) -> SandboxBot:
        return self.sandbox.bot(self.token)

    # -- synchronisation --------------------------------------------------------------------------
    def watch(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Also wait for `app` to have processed every update it received (recommended when
        the application runs in the same process: handlers doing slow work between two Bot
        API calls are then waited for exactly, not guessed by the quiet period)."""

        def busy() -> bool:
            return (
                app.update_queue.qsize() > 0 or app.update_processor.current_concurrent_updates > 0
            )

        self._probes.append(busy)

    def add_busy_probe(self, probe: Callable[[], bool]) -> None:
        """Wait, after each action, until `probe()` is false as well."""
        self._probes.append(probe)

    def _busy(self) -> bool:
        return any(probe() for probe in self._probes)

    def _track(self, pending: PendingUpdate) -> None:
        self._pending = [p for p in self._pending if not p.fetched]
        self._pending.append(pending)

    async def settle(self, updates: Sequence[PendingUpdate] = ()) -> None:
        """Return once the bot fetched `updates` and finished reacting (see module doc)."""
        started = time.monotonic()
        waiting = [u for u in updates if not u.fetched]
        if waiting and not await self.sandbox.wait_fetched(waiting, max_wait=self.timeout):
            ids = ", ".join(str(u.update_id) for u in waiting if not u.fetched)
            raise AssertionError(
                f"the bot did not fetch update {ids} within {self.timeout} s: is it polling "
                f"{self.sandbox.base_url}<token>/getUpdates, or is its webhook reachable?"
            )
        remaining = self.timeout - (time.monotonic() - started)
        idle = await self.sandbox.wait_idle(
            quiet=self.quiet, max_wait=max(remaining, 2 * self.quiet), busy=self._busy
        )
        if not idle:
            _log.warning(
                "sandbox: the bot was still busy %.1f s after the update; going on", self.timeout
            )

    async def idle(self) -> None:
        """Wait until every update sent so far was fetched and the bot is quiet."""
        pending, self._pending = self._pending, []
        await self.settle(pending)

    # -- people -----------------------------------------------------------------------------------
    def user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "fr",
    ) -> SimUser:
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        state = self.sandbox.add_user(user_id, first_name, last_name, username, language_code)
        user = SimUser(self, state)
        self._users[user_id] = user
        return user

    def group(
        self,
        chat_id: int,
        title: str,
        members: Iterable[SimUser] = (),
        *,
        supergroup: bool | None = None,
    ) -> SimGroup:
        members = list(members)
        state = self.sandbox.add_group(
            chat_id, title, [m.id for m in members], supergroup=supergroup
        )
        existing = self._groups.get(chat_id)
        if existing is not None:
            return existing
        group = SimGroup(self, state)
        self._groups[chat_id] = group
        return group


class _ChatView:
    """What a chat shows: the bot's messages, and the matching logic of `expect`."""

    def __init__(self, sim: Simulator, chat_id: int, name: str) -> None:
        self.sim = sim
        self.chat_id = chat_id
        self.name = name
        self._mark = 0
        self._consumed: set[int] = set()

    @property
    def _events(self) -> list[InboxEvent]:
        return self.sim.sandbox.inbox(self.chat_id, token=self.sim.token)

    @property
    def messages(self) -> list[SentMessage]:
        """Every message the bot sent in this chat, in order (deleted ones flagged)."""
        return self.sim.sandbox.messages_to(self.chat_id, token=self.sim.token)

    @property
    def last(self) -> SentMessage | None:
        """The latest message of the bot still shown (not deleted)."""
        for message in reversed(self.messages):
            if not message.deleted:
                return message
        return None

    def mark(self) -> int:
        """A position in the inbox, for `inbox_since`."""
        return len(self._events)

    def inbox_since(self, mark: int) -> list[SentMessage]:
        """The bot messages that appeared or changed since `mark`, in order of first change."""
        seen: dict[int, SentMessage] = {}
        for event in self._events[mark:]:
            seen.setdefault(event.message.message_id, event.message)
        return list(seen.values())

    @property
    def reply_keyboard(self) -> list[list[Button]] | None:
        """The reply keyboard currently shown in the chat."""
        markup = self.sim.sandbox.reply_keyboard(self.chat_id, token=self.sim.token)
        return keyboard_buttons(markup) if markup is not None else None

    def _begin_action(self) -> None:
        self._mark = len(self._events)
        self._consumed.clear()

    def _unmatched(self) -> list[tuple[int, InboxEvent]]:
        events = self._events
        return [(i, events[i]) for i in range(self._mark, len(events)) if i not in self._consumed]

    async def expect(
        self,
        pattern: Pattern = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the natural name for test authors
        kind: Kind | None = None,
    ) -> SentMessage:
        """Wait for a bot message (new or edited since the last action, not matched before) whose
        plain text contains `pattern` (a str) or matches it (a compiled regex); return it."""
        limit = self.sim.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            for index, event in self._unmatched():
                if (kind is None or event.message.kind == kind) and _matches(pattern, event.plain):
                    self._consumed.add(index)
                    return event.message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = _pattern_text(pattern) + (f" of kind {kind}" if kind else "")
                raise AssertionError(
                    f"{self.name} expected {what} within {limit} s.\n{self._report()}"
                )
            await self.sim.sandbox.wait_for_change(remaining)

    async def expect_nothing(self, within: float = 0.2) -> None:
        """Fail if a bot message arrives (or is edited) that no `expect` matched, since the last
        action or within `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            unmatched = self._unmatched()
            if unmatched:
                raise AssertionError(
                    f"{self.name} expected nothing more from the bot, but got:\n"
                    + "\n".join(f"  {_summary(e.message, e.plain)}" for _, e in unmatched)
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await self.sim.sandbox.wait_for_change(remaining)

    def _report(self) -> str:
        events = self._events
        lines = []
        fresh = events[self._mark :]
        if fresh:
            lines.append("Since the last action the bot sent or edited:")
            for offset, event in enumerate(fresh):
                used = " (already matched)" if self._mark + offset in self._consumed else ""
                lines.append(f"  [{event.kind}] {_summary(event.message, event.plain)}{used}")
        else:
            lines.append("Since the last action the bot sent nothing in this chat.")
        earlier = [m for m in self.messages if all(m is not e.message for e in fresh)][-3:]
        if earlier:
            lines.append("Earlier messages:")
            lines.extend(f"  {_summary(m)}" for m in earlier)
        return "\n".join(lines)

    def _find_inline(self, text: str, message: SentMessage | None) -> tuple[SentMessage, Button]:
        candidates = (
            [message]
            if message is not None
            else [m for m in reversed(self.messages) if not m.deleted and m.inline_keyboard]
        )
        for candidate in candidates:  # exact text first, newest message first
            for row in candidate.inline_keyboard:
                for button in row:
                    if button.text == text:
                        return candidate, button
        for candidate in candidates:
            flat = [b for row in candidate.inline_keyboard for b in row]
            found = _pick(flat, text, f"of message #{candidate.message_id}")
            if found is not None:
                return candidate, found
        shown = [
            f"  #{m.message_id}: " + " | ".join(" · ".join(row) for row in m.buttons)
            for m in candidates[:5]
        ]
        raise AssertionError(
            f"{self.name} sees no inline button {text!r}. "
            + ("Buttons shown:\n" + "\n".join(shown) if shown else "No inline buttons are shown.")
        )

    async def _click_as(
        self, user: SimUser, text: str, message: SentMessage | None
    ) -> CallbackQueryRecord | None:
        target, button = self._find_inline(text, message)
        if button.callback_data is None:
            if button.url is not None:
                username, _ = parse_deep_link(button.url)
                if username.lower() == self.sim.bot.username.lower():
                    await user.follow(button.url)
                    return None
                raise AssertionError(
                    f"button {button.text!r} opens {button.url}: nothing reaches the bot"
                )
            raise AssertionError(
                f"button {button.text!r} is neither a callback nor a link button: not simulated"
            )
        self._begin_action()
        pending, record = self.sim.sandbox.user_clicks(
            user.id, target, button.callback_data, token=self.sim.token
        )
        user.last_callback = record
        self.sim._track(pending)
        await self.sim.settle([pending])
        if self.sim.strict_callbacks and not record.answered:
            raise AssertionError(
                f"the bot did not answer the callback query of {button.text!r} "
                f"(data {button.callback_data!r}): the user sees a spinner"
            )
        return record

    async def _say_as(self, user: SimUser, content: Json) -> Json:
        self._begin_action()
        try:
            pending, message = self.sim.sandbox.user_says(
                user.id, self.chat_id, content, token=self.sim.token
            )
        except (RuntimeError, ValueError, KeyError) as exc:
            raise AssertionError(str(exc)) from None
        user.sent.append(message)
        self.sim._track(pending)
        await self.sim.settle([pending])
        return message


def _text_content(text: str, reply_to: SentMessage | Json | None, sim: Simulator) -> Json:
    if not text:
        raise AssertionError("Telegram clients do not send empty messages")
    content: Json = {"text": text}
    entities = text_entities(text)
    if entities:
        content["entities"] = entities
    if isinstance(reply_to, SentMessage):
        content["reply_to_message"] = sim.sandbox.message_json(reply_to, token=sim.token)
    elif reply_to is not None:
        content["reply_to_message"] = reply_to
    return content


class SimUser(_ChatView):
    """A simulated Telegram user; their private chat with the bot is `chat_id` == `id`."""

    def __init__(self, sim: Simulator, state: SimUserState) -> None:
        super().__init__(sim, state.id, state.first_name)
        self.state = state
        #: the messages this user sent (private chat and groups), as Message JSON
        self.sent: list[Json] = []
        #: the callback query of the last click
        self.last_callback: CallbackQueryRecord | None = None

    def __repr__(self) -> str:
        return f"<SimUser {self.id} {self.name}>"

    @property
    def id(self) -> int:
        return self.state.id

    @property
    def first_name(self) -> str:
        return self.state.first_name

    @property
    def last_name(self) -> str | None:
        return self.state.last_name

    @property
    def username(self) -> str | None:
        return self.state.username

    @property
    def language_code(self) -> str | None:
        return self.state.language_code

    @property
    def blocked(self) -> bool:
        return self.sim.bot.id in self.state.blocked

    # -- actions ----------------------------------------------------------------------------------
    async def send(self, text: str, *, reply_to: SentMessage | Json | None = None) -> Json:
        """Type and send a text (commands get their ``bot_command`` entity)."""
        return await self._say_as(self, _text_content(text, reply_to, self.sim))

    async def click(
        self, text: str, *, message: SentMessage | None = None
    ) -> CallbackQueryRecord | None:
        """Tap the inline button labelled `text` (exact, else the only one containing it) on the
        newest message showing it (or on `message`). A callback button sends a callback query
        (returned, with whether the bot answered it); a t.me link to the bot is followed."""
        return await self._click_as(self, text, message)

    async def tap(self, text: str) -> Json:
        """Tap a button of the reply keyboard currently shown."""
        keyboard = self.reply_keyboard
        if not keyboard:
            raise AssertionError(f"{self.name} has no reply keyboard shown; cannot tap {text!r}")
        button = _pick([b for row in keyboard for b in row], text, "of the reply keyboard")
        if button is None:
            labels = " | ".join(" · ".join(b.text for b in row) for row in keyboard)
            raise AssertionError(f"{self.name} sees no keyboard button {text!r}: {labels}")
        if button.request_contact:
            return await self.send_contact()
        if button.request_location:
            return await self.send_location()
        return await self.send(button.text)

    async def follow(self, url: str) -> Json:
        """Open a deep link to the bot: the client sends ``/start <payload>``."""
        username, payload = parse_deep_link(url)
        if username.lower() != self.sim.bot.username.lower():
            raise AssertionError(f"{url!r} leads to @{username}, not @{self.sim.bot.username}")
        if payload is None or payload == "":
            return await self.send("/start")
        if not _PAYLOAD.match(payload):
            raise AssertionError(
                f"invalid start payload {payload!r} in {url!r}: Telegram allows 1-64 characters "
                "among A-Z, a-z, 0-9, _ and -"
            )
        return await self.send(f"/start {payload}")

    async def send_photo(
        self,
        data: bytes | None = None,
        *,
        caption: str | None = None,
        filename: str = "photo.png",
    ) -> Json:
        image = data if data is not None else tiny_png()
        size = image_size(image)
        if size is None:
            raise AssertionError("send_photo needs PNG, JPEG, GIF or WebP bytes")
        sandbox = self.sim.sandbox
        stored = sandbox.store_file(
            image,
            kind="photo",
            filename=filename,
            mime_type="image/png",
            width=size[0],
            height=size[1],
        )
        content: Json = {"photo": sandbox.photo_sizes(stored)}
        if caption:
            content["caption"] = caption
        return await self._say_as(self, content)

    async def send_document(
        self,
        data: bytes = b"%PDF-1.4\n% sandbox document\n",
        *,
        filename: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
    ) -> Json:
        sandbox = self.sim.sandbox
        stored = sandbox.store_file(data, kind="document", filename=filename, mime_type=mime_type)
        content: Json = {"document": sandbox.document_json(stored)}
        if caption:
            content["caption"] = caption
        return await self._say_as(self, content)

    async def send_sticker(self, emoji: str = "👍") -> Json:
        stored = self.sim.sandbox.store_file(
            b"RIFF\x00\x00\x00\x00WEBPVP8 ", kind="sticker", mime_type="image/webp"
        )
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return await self._say_as(self, {"sticker": sticker})

    async def send_voice(self, duration: int = 3) -> Json:
        stored = self.sim.sandbox.store_file(
            b"OggS\x00\x02sandbox-voice", kind="voice", mime_type="audio/ogg"
        )
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "duration": duration,
            "mime_type": "audio/ogg",
        }
        return await self._say_as(self, {"voice": voice})

    async def send_location(self, latitude: float = 50.8467, longitude: float = 4.3525) -> Json:
        return await self._say_as(
            self, {"location": {"latitude": latitude, "longitude": longitude}}
        )

    async def send_contact(
        self,
        phone_number: str = "+32470123456",
        first_name: str | None = None,
        *,
        own: bool = True,
    ) -> Json:
        """Share a contact (by default their own, as a request_contact button does)."""
        contact: Json = {"phone_number": phone_number, "first_name": first_name or self.name}
        if own:
            contact["user_id"] = self.id
            if self.state.last_name:
                contact["last_name"] = self.state.last_name
        return await self._say_as(self, {"contact": contact})

    async def edit_last(self, text: str) -> Json:
        """Edit the last text this user sent in the private chat (an edited_message update)."""
        mine = [m for m in self.sent if m["chat"]["id"] == self.chat_id and "text" in m]
        if not mine:
            raise AssertionError(f"{self.name} has sent no text to edit")
        content: Json = {"text": text}
        entities = text_entities(text)
        if entities:
            content["entities"] = entities
        self._begin_action()
        pending, edited = self.sim.sandbox.user_edits(
            self.id, self.chat_id, mine[-1]["message_id"], content, token=self.sim.token
        )
        self.sim._track(pending)
        await self.sim.settle([pending])
        return edited

    def block(self) -> None:
        """Block the bot (it gets a my_chat_member update; sends to this user get 403)."""
        self.sim.sandbox.block(self.id, token=self.sim.token)

    def unblock(self) -> None:
        self.sim.sandbox.unblock(self.id, token=self.sim.token)

    async def restart(self) -> Json:
        """Unblock the bot and press "Restart" (sends /start), as the Telegram app does."""
        self.unblock()
        return await self.send("/start")


class SimGroup(_ChatView):
    """A group chat with the bot and some simulated users."""

    def __init__(self, sim: Simulator, state: GroupState) -> None:
        super().__init__(sim, state.id, state.title)
        self.state = state

    def __repr__(self) -> str:
        return f"<SimGroup {self.chat_id} {self.name}>"

    def add_member(self, user: SimUser) -> None:
        self.state.members.add(user.id)

    async def send(
        self, user: SimUser, text: str, *, reply_to: SentMessage | Json | None = None
    ) -> Json:
        """`user` writes `text` in the group (the bot receives it only if privacy mode lets it:
        commands, replies to the bot, mentions)."""
        return await self._say_as(user, _text_content(text, reply_to, self.sim))

    async def click(
        self, user: SimUser, text: str, *, message: SentMessage | None = None
    ) -> CallbackQueryRecord | None:
        return await self._click_as(user, text, message)
