"""What the sandbox Bot API remembers: users, groups, files, and everything the bot sent.

These records are what tests and benchmarks read. They are small on purpose (benchmarks send
thousands of messages): a message keeps references to what the bot sent (its text, the parsed
reply markup), never copies, and the JSON the Bot API answers is rebuilt from them on demand.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Button",
    "CallbackQueryRecord",
    "GroupState",
    "InboxEvent",
    "MessageEdit",
    "SandboxStats",
    "SentMessage",
    "SimUserState",
    "StoredFile",
]

Json = dict[str, Any]
MessageKind = Literal["text", "photo", "document", "sticker", "voice", "location", "contact"]


@dataclass(eq=False, slots=True)
class StoredFile:
    """A file known to the sandbox (uploaded by the bot or sent by a simulated user)."""

    file_id: str
    file_unique_id: str
    kind: Literal["photo", "document", "sticker", "voice"]
    data: bytes
    filename: str | None
    mime_type: str | None
    file_path: str
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(eq=False, slots=True)
class SimUserState:
    """A Telegram user as the sandbox knows them. The private chat id is the user id."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "fr"
    #: ids of the bots this user has talked to (sent at least one update)
    started: set[int] = field(default_factory=set)
    #: ids of the bots this user has blocked
    blocked: set[int] = field(default_factory=set)
    deactivated: bool = False
    _json: Json | None = None
    _chat_json: Json | None = None

    def to_json(self) -> Json:
        """The User object (cached: it is embedded in every update)."""
        if self._json is None:
            user: Json = {"id": self.id, "is_bot": False, "first_name": self.first_name}
            if self.last_name:
                user["last_name"] = self.last_name
            if self.username:
                user["username"] = self.username
            if self.language_code:
                user["language_code"] = self.language_code
            self._json = user
        return self._json

    def chat_json(self) -> Json:
        """The Chat object of the private chat with this user."""
        if self._chat_json is None:
            chat: Json = {"id": self.id, "type": "private", "first_name": self.first_name}
            if self.last_name:
                chat["last_name"] = self.last_name
            if self.username:
                chat["username"] = self.username
            self._chat_json = chat
        return self._chat_json


@dataclass(eq=False, slots=True)
class GroupState:
    """A group or supergroup (negative id) the bot is a member of."""

    id: int
    title: str
    members: set[int]
    supergroup: bool
    bot_member: bool = True
    _chat_json: Json | None = None

    def chat_json(self) -> Json:
        if self._chat_json is None:
            self._chat_json = {
                "id": self.id,
                "type": "supergroup" if self.supergroup else "group",
                "title": self.title,
            }
        return self._chat_json


@dataclass(frozen=True, slots=True)
class Button:
    """An inline or reply keyboard button as a user sees it."""

    text: str
    row: int
    column: int
    callback_data: str | None = None
    url: str | None = None
    request_contact: bool = False
    request_location: bool = False


@dataclass(eq=False, slots=True)
class MessageEdit:
    """One edit of a bot message: the version it replaced, and when."""

    method: str
    at: float  # time.monotonic()
    wall: float  # time.time() (or the sandbox's wall clock)
    before_raw: str | None
    before_plain: str
    before_entities: list[Json] | None
    before_markup: Json | None


@dataclass(eq=False, slots=True)
class SentMessage:
    """A message the bot sent, in its current state (edits applied), with its history."""

    bot_id: int
    chat_id: int
    message_id: int
    seq: int  #: order among every message the bot sent
    method: str  #: sendMessage, sendPhoto, sendDocument, copyMessage
    kind: MessageKind
    #: the text or caption exactly as the bot sent it (HTML source when parse_mode is HTML)
    raw: str | None
    parse_mode: str | None
    #: text or caption after entity parsing and trimming ("" for a media without caption)
    plain: str
    entities: list[Json] | None
    #: the reply_markup as sent (inline keyboard, reply keyboard, remove_keyboard, force_reply)
    reply_markup: Json | None
    sent_at: float  #: time.monotonic()
    wall: float  #: wall-clock time.time() of the send
    date: int  #: the Message.date Telegram returned
    photo: StoredFile | None = None
    document: StoredFile | None = None
    #: content of copied messages of other kinds (sticker, voice, location, contact)
    content: Json | None = None
    #: the album a message belongs to (sendMediaGroup), None otherwise
    media_group_id: str | None = None
    edits: list[MessageEdit] = field(default_factory=list)
    edit_date: int | None = None
    deleted: bool = False
    deleted_at: float | None = None

    # -- convenience views (simulator, tests) --------------------------------------------------
    @property
    def text(self) -> str:
        """The plain text (or caption) a user reads."""
        return self.plain

    @property
    def caption(self) -> str | None:
        return self.plain if self.kind != "text" else None

    @property
    def html(self) -> str:
        """The text as HTML: the source when the bot used parse_mode=HTML, else escaped."""
        if (
            self.raw is not None
            and self.parse_mode is not None
            and self.parse_mode.upper() == "HTML"
        ):
            return self.raw
        return html.escape(self.plain, quote=False)

    @property
    def inline_keyboard(self) -> list[list[Button]]:
        markup = self.reply_markup
        if not markup or "inline_keyboard" not in markup:
            return []
        rows: list[list[Button]] = []
        for r, row in enumerate(markup["inline_keyboard"]):
            rows.append(
                [
                    Button(
                        text=str(b.get("text", "")),
                        row=r,
                        column=c,
                        callback_data=b.get("callback_data"),
                        url=b.get("url"),
                    )
                    for c, b in enumerate(row)
                ]
            )
        return rows

    @property
    def buttons(self) -> list[list[str]]:
        """Texts of the inline buttons, row by row."""
        return [[b.text for b in row] for row in self.inline_keyboard]

    @property
    def reply_keyboard(self) -> list[list[Button]] | None:
        """The reply keyboard this message set, if any."""
        markup = self.reply_markup
        if not markup or "keyboard" not in markup:
            return None
        return keyboard_buttons(markup)

    @property
    def removes_keyboard(self) -> bool:
        return bool(self.reply_markup and self.reply_markup.get("remove_keyboard"))

    @property
    def photo_bytes(self) -> bytes | None:
        return self.photo.data if self.photo is not None else None

    @property
    def document_bytes(self) -> bytes | None:
        return self.document.data if self.document is not None else None

    @property
    def document_name(self) -> str | None:
        return self.document.filename if self.document is not None else None

    @property
    def history(self) -> list[str]:
        """Every plain text this message showed, oldest first."""
        return [e.before_plain for e in self.edits] + [self.plain]

    def __repr__(self) -> str:
        flags = " deleted" if self.deleted else ""
        flags += f" edited×{len(self.edits)}" if self.edits else ""
        return f"<SentMessage {self.chat_id}/{self.message_id} {self.kind}{flags} {self.plain!r}>"


def keyboard_buttons(markup: Json) -> list[list[Button]]:
    """The buttons of a ReplyKeyboardMarkup (buttons may be strings or KeyboardButton)."""
    rows: list[list[Button]] = []
    for r, row in enumerate(markup.get("keyboard", [])):
        buttons: list[Button] = []
        for c, b in enumerate(row):
            if isinstance(b, str):
                buttons.append(Button(text=b, row=r, column=c))
            else:
                buttons.append(
                    Button(
                        text=str(b.get("text", "")),
                        row=r,
                        column=c,
                        request_contact=bool(b.get("request_contact")),
                        request_location=bool(b.get("request_location")),
                    )
                )
        rows.append(buttons)
    return rows


@dataclass(eq=False, slots=True)
class InboxEvent:
    """A bot message appearing (``new``) or changing (``edited``) in a chat, in order."""

    message: SentMessage
    kind: Literal["new", "edited"]
    plain: str  #: the text at that moment
    at: float


@dataclass(eq=False, slots=True)
class CallbackQueryRecord:
    """A callback query a simulated user sent, and how the bot answered it."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created_at: float
    answered: bool = False
    answered_at: float | None = None
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int | None = None


@dataclass(eq=False)
class SandboxStats:
    """Counters of what the sandbox answered."""

    requests: Counter[str] = field(default_factory=Counter)  #: per Bot API method
    statuses: Counter[int] = field(default_factory=Counter)  #: per HTTP status
    flood_429: int = 0  #: every 429 answered (flood limits and injected)
    client_errors: int = 0  #: 4xx answers, 429 included
    server_errors: int = 0  #: 5xx answers (injected errors, down)
    injected: int = 0  #: answers decided by fault injection
    webhook_posts: int = 0
    webhook_failures: int = 0
    chat_actions: int = 0
    #: time.monotonic() of every sent or edited message accepted, at its arrival
    accepted: list[float] = field(default_factory=list)

    def most_in_any_window(self, seconds: float = 1.0) -> int:
        """The most messages accepted in any trailing `seconds` (what strict flood checks)."""
        times = sorted(self.accepted)
        most, first = 0, 0
        for last, moment in enumerate(times):
            while times[first] <= moment - seconds:
                first += 1
            most = max(most, last - first + 1)
        return most

    def reset(self) -> None:
        self.requests.clear()
        self.statuses.clear()
        self.accepted.clear()
        self.flood_429 = self.client_errors = self.server_errors = self.injected = 0
        self.webhook_posts = self.webhook_failures = self.chat_actions = 0
