"""The sandbox Bot API: a local, strict stand-in for Telegram's Bot API, served over HTTP.

The real application talks to it unchanged: point PTB's ``base_url`` (our
``TELEGRAM_API_BASE_URL``) at `SandboxBotAPI.base_url` and ``base_file_url`` at
`SandboxBotAPI.base_file_url`. It is used by the end-to-end tests, the benchmarks and
``relais try``.

What it does, like Telegram:

* answers ``POST|GET /bot<token>/<method>`` with JSON, multipart/form-data (file uploads) or
  urlencoded bodies (PTB sends urlencoded form fields whose non-string values are JSON), method
  names case-insensitive; ``{"ok": true, "result": ...}`` or
  ``{"ok": false, "error_code": ..., "description": ..., "parameters": {"retry_after": N}}``;
* keeps an update queue per bot: ``getUpdates`` long polling with offset confirmation, or a
  webhook it POSTs to (with ``X-Telegram-Bot-Api-Secret-Token``), retrying on failure;
* is strict where Telegram is strict (text length after entity parsing, captions, callback data
  bytes, button URLs, HTML parse mode, unknown chats, users who never started the bot or blocked
  it, edits that change nothing, stale callback queries) with Telegram's own descriptions;
* applies flood limits (see `bot.sandbox.flood`) and answers 429 with ``retry_after``;
* records everything the bot sent, edited, deleted and answered, for tests and benchmarks.

Deliberate choices where Telegram is vague or where a test needs more:

* Flood limits count *new messages* only (sendMessage, sendPhoto, sendDocument, copyMessage).
  Edits, deletions, callback answers and chat actions are never limited: Telegram's limits on
  edits are undocumented and much looser, and a stand-in that invents them would make tests
  flaky rather than realistic.
* ``strict_flood=True`` takes the safe reading instead, for benchmarks of pacing: sent AND
  edited messages share one bot-wide budget of at most `global_per_second` (30) in any
  trailing 1,000 ms, measured when the request arrives; the 31st gets 429 with
  ``retry_after``. Callback answers, deletions and chat actions stay free.
* ``latency=(low, high)`` gives every request a round trip drawn uniformly in that range
  (seeded by `latency_seed`, so runs repeat): a share `latency_uplink` of it (half by default,
  a symmetric network) passes before the request arrives (and is counted by the flood
  limits), the rest before its answer leaves. Requests sent evenly spaced thus arrive
  unevenly, as they do at Telegram (20-150 ms from Europe). Off by default.
* A user who exists but never sent anything to the bot gives 403 ``Forbidden: bot can't initiate
  conversation with a user`` (what Telegram answers); an id nobody knows gives 400
  ``Bad Request: chat not found``.
* While `go_down` is in effect every request (long polls included) is answered 502 Bad Gateway
  with a JSON body, so PTB raises ``NetworkError``; connections are not dropped.
* ``setWebhook`` accepts ``http://`` URLs (Telegram requires HTTPS) so a local PTB webhook server
  can be used; the sandbox offline cannot fetch ``http(s)://`` file URLs, so sending a photo by URL
  is refused as a wrong file identifier.
* ``parse_mode`` MarkdownV2/Markdown is refused: Relais formats with HTML only.
* A bare ``&`` in HTML is refused (see `bot.sandbox.entities`).
* In groups the bot has privacy mode on (like a new bot): it only receives commands, replies to
  its messages and messages mentioning it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import random
import re
import struct
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import httpx
import tornado.httpserver
import tornado.netutil
import tornado.web
from tornado.httputil import HTTPServerRequest
from tornado.iostream import StreamClosedError

from bot.sandbox.entities import EntityParseError, finalize_text, parse_html
from bot.sandbox.flood import FloodLimiter
from bot.sandbox.records import (
    CallbackQueryRecord,
    GroupState,
    InboxEvent,
    MessageEdit,
    MessageKind,
    SandboxStats,
    SentMessage,
    SimUserState,
    StoredFile,
)

if TYPE_CHECKING:
    from bot.sandbox.simulator import SimGroup, Simulator, SimUser

__all__ = ["ApiError", "PendingUpdate", "SandboxBot", "SandboxBotAPI", "image_size"]

_log = logging.getLogger(__name__)

Json = dict[str, Any]

#: What getUpdates delivers when allowed_updates is empty or never set.
DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)

#: Methods that create a message and therefore count toward the flood limits.
SENDING_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "copyMessage", "sendMediaGroup", "sendVoice"}
)

_TEXT_LIMIT = 4096
_CAPTION_LIMIT = 1024
_MEDIA_GROUP_MIN, _MEDIA_GROUP_MAX = 2, 10
_CALLBACK_DATA_LIMIT = 64
_CALLBACK_ANSWER_LIMIT = 200
_DOCUMENT_LIMIT = 50 * 1024 * 1024
_PHOTO_LIMIT = 10 * 1024 * 1024

_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_BUTTON_URL = re.compile(r"^(?:https?://[^\s/?#]+(?:[/?#]\S*)?|tg://\S+)$", re.IGNORECASE)
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_LANGUAGE = re.compile(r"^(?:[a-z]{2})?$")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)


class ApiError(Exception):
    """A Bot API error answer: HTTP status = error_code, Telegram's description."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> bytes:
        payload: Json = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            payload["parameters"] = {"retry_after": self.retry_after}
        return json.dumps(payload, ensure_ascii=False).encode()


def _bad(description: str) -> ApiError:
    return ApiError(400, "Bad Request: " + description)


def _forbidden(description: str) -> ApiError:
    return ApiError(403, "Forbidden: " + description)


def _ok(result: object) -> bytes:
    return json.dumps(
        {"ok": True, "result": result}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def _too_many(wait: float) -> None:
    """Telegram's 429 when a flood limit says to wait (rounded up to whole seconds)."""
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        raise ApiError(
            429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
        )


@dataclass(eq=False, slots=True)
class PendingUpdate:
    """An update queued for a bot; `fetched` once getUpdates or the webhook handed it over."""

    update_id: int
    kind: str
    payload: str  #: the Update, JSON-encoded once
    pushed_at: float
    fetched: bool = False
    fetched_at: float | None = None
    #: never delivered: filtered by allowed_updates or privacy mode, or dropped by an offset
    dropped: bool = False

    def mark_fetched(self, now: float) -> None:
        if not self.fetched:
            self.fetched = True
            self.fetched_at = now


@dataclass(eq=False, slots=True)
class _Upload:
    filename: str | None
    body: bytes
    content_type: str | None


class _Params:
    """Request parameters, typed on access (form values are strings, JSON ones native)."""

    __slots__ = ("files", "raw")

    def __init__(self, raw: dict[str, Any], files: dict[str, _Upload]) -> None:
        self.raw = raw
        self.files = files

    def has(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def get_str(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        raise _bad(f'field "{name}" must be of type String')

    def get_int(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise _bad(f'field "{name}" must be of type Integer')

    def get_float(self, name: str) -> float | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise _bad(f'field "{name}" must be of type Number')

    def get_bool(self, name: str) -> bool:
        value = self.raw.get(name)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str) and value.lower() in ("true", "1", "false", "0", ""):
            return value.lower() in ("true", "1")
        raise _bad(f'field "{name}" must be of type Boolean')

    def get_json(self, name: str, what: str | None = None) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {what or name} JSON object") from None
        return value

    def chat_id(self, name: str = "chat_id") -> int:
        value = self.raw.get(name)
        if value is None or value == "":
            raise _bad(f"{name} is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        # "@username" addresses public channels and supergroups only; the sandbox has none.
        raise _bad("chat not found")

    def message_id(self, name: str = "message_id") -> int:
        value = self.get_int(name)
        if value is None:
            raise _bad("message identifier is not specified")
        return value


def _read_params(request: HTTPServerRequest) -> _Params:
    raw: dict[str, Any] = {}
    try:
        for key, values in request.query_arguments.items():
            raw[key] = values[-1].decode("utf-8")
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            if request.body:
                try:
                    data = json.loads(request.body)
                except ValueError:
                    raise _bad("can't parse JSON encoded request") from None
                if not isinstance(data, dict):
                    raise _bad("JSON object expected")
                raw.update(data)
        else:
            for key, values in request.body_arguments.items():
                raw[key] = values[-1].decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("strings must be encoded in UTF-8") from None
    files: dict[str, _Upload] = {}
    for key, uploads in request.files.items():
        first = uploads[0]
        files[key] = _Upload(first.filename or None, first.body, first.content_type or None)
    return _Params(raw, files)


class _ChatLog:
    """One chat as one bot sees it: message ids, what the bot sent, what users sent."""

    __slots__ = (
        "by_id",
        "chat_id",
        "chat_json",
        "events",
        "last_id",
        "messages",
        "reply_keyboard",
        "user_messages",
    )

    def __init__(self, chat_id: int, chat_json: Json) -> None:
        self.chat_id = chat_id
        self.chat_json = chat_json
        self.last_id = 0
        self.messages: list[SentMessage] = []
        self.by_id: dict[int, SentMessage] = {}
        #: messages users sent, as the Message JSON of their update
        self.user_messages: dict[int, Json] = {}
        self.events: list[InboxEvent] = []
        #: the reply keyboard currently shown in the chat (a ReplyKeyboardMarkup), if any
        self.reply_keyboard: Json | None = None

    def new_id(self) -> int:
        self.last_id += 1
        return self.last_id


@dataclass(eq=False)
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(eq=False)
class _Fault:
    kind: Literal["429", "error", "timeout"]
    method: str | None
    remaining: int
    status: int = 0
    retry_after: int = 0
    delay: float = 0.0

    def matches(self, method: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is None:
            return method != "getUpdates"
        return self.method.lower() == method.lower()


class SandboxBot:
    """A bot registered in the sandbox, with its own updates, chats and records."""

    def __init__(
        self,
        token: str,
        bot_id: int,
        username: str,
        first_name: str,
        limiter: FloodLimiter,
        privacy_mode: bool,
    ) -> None:
        self.token = token
        self.id = bot_id
        self.username = username
        self.first_name = first_name
        self.privacy_mode = privacy_mode
        self.limiter = limiter
        self.user_json: Json = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
        }
        self.updates: deque[PendingUpdate] = deque()
        self.last_update_id = 100_000_000
        self.allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self.poller: asyncio.Future[str] | None = None
        self.webhook: _Webhook | None = None
        self.chats: dict[int, _ChatLog] = {}
        self.sent: list[SentMessage] = []
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.commands: dict[tuple[str, str], list[Json]] = {}
        self.menu_buttons: dict[int | None, Json] = {}
        self.texts: dict[tuple[str, str], str] = {}  # (name|description|short_description, lang)
        self.chat_actions: Counter[tuple[int, str]] = Counter()

    def me(self) -> Json:
        return {
            **self.user_json,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def chat(self, chat_id: int, chat_json: Json) -> _ChatLog:
        log = self.chats.get(chat_id)
        if log is None:
            log = self.chats[chat_id] = _ChatLog(chat_id, chat_json)
        return log


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, JPEG, GIF or WebP image; None if it is not one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return 512, 512
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            i += 2 + int(length)
        return 800, 600
    return None


_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "audio/ogg": "oga",
    "text/plain": "txt",
    "text/csv": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}


class _ApiHandler(tornado.web.RequestHandler):
    """Routes ``/bot<token>/<method>`` to the sandbox."""

    def initialize(self, api: SandboxBotAPI) -> None:
        self.api = api
        self.poll: asyncio.Future[str] | None = None

    async def get(self, token: str, method: str) -> None:
        await self.api._serve(self, token, method)

    async def post(self, token: str, method: str) -> None:
        await self.api._serve(self, token, method)

    def on_connection_close(self) -> None:
        # A long poll whose client went away must not keep (or swallow) updates.
        if self.poll is not None and not self.poll.done():
            self.poll.set_result("closed")

    def compute_etag(self) -> str | None:
        return None  # no ETag/304 on GET getUpdates


class _FileHandler(tornado.web.RequestHandler):
    """Serves ``/file/bot<token>/<file_path>`` like Telegram's file download endpoint."""

    def initialize(self, api: SandboxBotAPI) -> None:
        self.api = api

    def get(self, token: str, path: str) -> None:
        if token not in self.api._bots:
            self.set_status(401)
            self.finish(ApiError(401, "Unauthorized").body())
            return
        stored = self.api._files_by_path.get(path)
        if stored is None:
            self.set_status(404)
            self.finish(ApiError(404, "Not Found").body())
            return
        self.set_header("Content-Type", stored.mime_type or "application/octet-stream")
        self.finish(stored.data)

    def compute_etag(self) -> str | None:
        return None


class _NotFoundHandler(tornado.web.RequestHandler):
    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish(ApiError(404, "Not Found").body())


class SandboxBotAPI:
    """A local Bot API server for tests, benchmarks and ``relais try``.

    ``async with SandboxBotAPI() as sandbox: sandbox.add_bot(token); ...`` or
    ``await start()`` / ``await stop()``. Everything runs on the caller's event loop.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        flood_limits: bool = True,
        per_chat_per_second: float = 1.0,
        per_chat_burst: int = 3,
        global_per_second: float = 30.0,
        global_burst: int = 30,
        group_per_minute: int = 20,
        strict_flood: bool = False,
        latency: tuple[float, float] | None = None,
        latency_seed: int = 0,
        latency_uplink: float = 0.5,
        strict_ampersand: bool = True,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self._port = port
        #: flood limits can be switched on and off at any time
        self.flood_limits = flood_limits
        #: sent and edited messages share the global limit, a sliding window of one second
        self.strict_flood = strict_flood
        if latency is not None and not 0.0 <= latency[0] <= latency[1]:
            raise ValueError("latency is (low, high) seconds with 0 <= low <= high")
        if not 0.0 <= latency_uplink <= 1.0:
            raise ValueError("latency_uplink is a share of the round trip, from 0 to 1")
        self.latency = latency
        self.latency_uplink = latency_uplink
        self._latency_rng = random.Random(latency_seed)
        self.per_chat_per_second = per_chat_per_second
        self.per_chat_burst = per_chat_burst
        self.global_per_second = global_per_second
        self.global_burst = global_burst
        self.group_per_minute = group_per_minute
        self.strict_ampersand = strict_ampersand
        self.wall_clock = wall_clock
        self.stats = SandboxStats()

        self._bots: dict[str, SandboxBot] = {}
        self._default_bot: SandboxBot | None = None
        self._users: dict[int, SimUserState] = {}
        self._groups: dict[int, GroupState] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_counter = itertools.count(1)
        self._callback_counter = itertools.count(1)

        self._server: tornado.httpserver.HTTPServer | None = None
        self._http: httpx.AsyncClient | None = None
        self._stopping = False
        self._stop_event: asyncio.Event | None = None
        self._started = False

        self._in_flight = 0
        self._serving = 0  # requests not yet answered, long polls included
        self._last_activity = time.monotonic()
        self._waiters: list[asyncio.Future[None]] = []

        self._faults: list[_Fault] = []
        self._latency = 0.0
        self._down = False
        self._simulator: Simulator | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind and serve; `port` is the real port afterwards."""
        if self._started:
            return
        app = tornado.web.Application(
            [
                (r"/bot([^/]+)/([A-Za-z_]+)/?", _ApiHandler, {"api": self}),
                (r"/file/bot([^/]+)/(.+)", _FileHandler, {"api": self}),
                (r"/.*", _NotFoundHandler),
            ],
            log_function=lambda handler: None,  # no access log: benchmarks do thousands/s
        )
        self._server = tornado.httpserver.HTTPServer(app, max_body_size=_DOCUMENT_LIMIT + 2**20)
        sockets = tornado.netutil.bind_sockets(self._port, self.host)
        self._server.add_sockets(sockets)
        self._port = int(sockets[0].getsockname()[1])
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        self._stop_event = asyncio.Event()
        self._stopping = False
        self._started = True
        for bot in self._bots.values():
            if bot.webhook is not None:
                self._start_webhook(bot)

    async def stop(self) -> None:
        """Release long polls and delayed answers, stop webhooks, close every connection."""
        if not self._started:
            return
        self._stopping = True
        if self._stop_event is not None:
            self._stop_event.set()
        for bot in self._bots.values():
            if bot.poller is not None and not bot.poller.done():
                bot.poller.set_result("stop")
            if bot.webhook is not None and bot.webhook.task is not None:
                bot.webhook.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await bot.webhook.task
                bot.webhook.task = None
        # Released long polls and delayed answers are still writing: let them finish (bounded)
        # before the sockets close, so clients get their answer rather than a reset.
        deadline = time.monotonic() + 2.0
        while self._serving and time.monotonic() < deadline:
            await self.wait_for_change(deadline - time.monotonic())
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self._started = False
        self._notify()

    async def __aenter__(self) -> SandboxBotAPI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """What goes to PTB's ``base_url`` (``TELEGRAM_API_BASE_URL``)."""
        return f"http://{self.host}:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self._port}/file/bot"

    # -- the world: bots, users, groups ---------------------------------------------------------
    def add_bot(
        self,
        token: str,
        *,
        bot_id: int | None = None,
        username: str = "relais_test_bot",
        first_name: str = "Relais",
        privacy_mode: bool = True,
    ) -> SandboxBot:
        """Register a bot token; the first one is the default bot of every helper."""
        if token in self._bots:
            return self._bots[token]
        if bot_id is None:
            prefix = token.split(":", 1)[0]
            bot_id = int(prefix) if prefix.isdigit() else 7_000_000_000 + len(self._bots) + 1
        limiter = FloodLimiter(
            per_chat_per_second=self.per_chat_per_second,
            per_chat_burst=self.per_chat_burst,
            global_per_second=self.global_per_second,
            global_burst=self.global_burst,
            group_per_minute=self.group_per_minute,
            now=time.monotonic(),
            strict=self.strict_flood,
        )
        bot = SandboxBot(token, bot_id, username, first_name, limiter, privacy_mode)
        self._bots[token] = bot
        if self._default_bot is None:
            self._default_bot = bot
        return bot

    def bot(self, token: str | None = None) -> SandboxBot:
        """The bot with this token, or the first one added."""
        if token is None:
            if self._default_bot is None:
                raise RuntimeError("no bot in the sandbox: call add_bot(token) first")
            return self._default_bot
        try:
            return self._bots[token]
        except KeyError:
            raise KeyError(f"unknown bot token {token[:6]}…") from None

    def add_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "fr",
    ) -> SimUserState:
        """A Telegram user (private chat id == user id). Existing users are returned as is."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        user = SimUserState(user_id, first_name, last_name, username, language_code)
        self._users[user_id] = user
        return user

    def get_user(self, user_id: int) -> SimUserState:
        return self._users[user_id]

    def add_group(
        self,
        chat_id: int,
        title: str,
        member_ids: Iterable[int] = (),
        *,
        supergroup: bool | None = None,
    ) -> GroupState:
        """A group the bot is a member of (negative id; ≤ -10**12 means a supergroup)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        members = set(member_ids)
        unknown = members - self._users.keys()
        if unknown:
            raise ValueError(f"unknown users {sorted(unknown)}: add_user() them first")
        existing = self._groups.get(chat_id)
        if existing is not None:
            existing.members |= members
            return existing
        if supergroup is None:
            supergroup = chat_id <= -1_000_000_000_000
        group = GroupState(chat_id, title, members, supergroup)
        self._groups[chat_id] = group
        return group

    def get_group(self, chat_id: int) -> GroupState:
        return self._groups[chat_id]

    def block(self, user_id: int, *, token: str | None = None, notify: bool = True) -> None:
        """The user blocks the bot: sends to them get 403; the bot gets a my_chat_member update."""
        bot = self.bot(token)
        user = self._users[user_id]
        if bot.id in user.blocked:
            return
        user.blocked.add(bot.id)
        if notify and bot.id in user.started:
            self._push_my_chat_member(bot, user, "member", "kicked")

    def unblock(self, user_id: int, *, token: str | None = None, notify: bool = True) -> None:
        bot = self.bot(token)
        user = self._users[user_id]
        if bot.id not in user.blocked:
            return
        user.blocked.discard(bot.id)
        if notify and bot.id in user.started:
            self._push_my_chat_member(bot, user, "kicked", "member")

    def mark_started(self, user_id: int, *, token: str | None = None) -> None:
        """As if the user had opened the private chat with the bot (pressed Start) before the
        test: the bot may write to them, without any update being sent."""
        self._users[user_id].started.add(self.bot(token).id)

    def deactivate(self, user_id: int) -> None:
        """The user deleted their account: sends get 403 ``user is deactivated``."""
        self._users[user_id].deactivated = True

    def _push_my_chat_member(
        self, bot: SandboxBot, user: SimUserState, old: str, new: str
    ) -> PendingUpdate:
        new_member: Json = {"status": new, "user": bot.user_json}
        if new == "kicked":
            new_member["until_date"] = 0
        old_member: Json = {"status": old, "user": bot.user_json}
        if old == "kicked":
            old_member["until_date"] = 0
        payload = {
            "chat": user.chat_json(),
            "from": user.to_json(),
            "date": int(self.wall_clock()),
            "old_chat_member": old_member,
            "new_chat_member": new_member,
        }
        return self.push_update("my_chat_member", payload, token=bot.token)

    # -- the simulator ----------------------------------------------------------------------------
    @property
    def simulator(self) -> Simulator:
        """The default `Simulator` of this sandbox (default bot)."""
        if self._simulator is None:
            from bot.sandbox.simulator import Simulator

            self._simulator = Simulator(self)
        return self._simulator

    def user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "fr",
    ) -> SimUser:
        """A simulated user talking to the default bot (see `bot.sandbox.simulator`)."""
        return self.simulator.user(user_id, first_name, last_name, username, language_code)

    def group(
        self,
        chat_id: int,
        title: str,
        members: Iterable[SimUser] = (),
        *,
        supergroup: bool | None = None,
    ) -> SimGroup:
        return self.simulator.group(chat_id, title, members, supergroup=supergroup)

    # -- updates --------------------------------------------------------------------------------
    def push_update(
        self, kind: str, payload: Json, *, token: str | None = None, deliver: bool = True
    ) -> PendingUpdate:
        """Queue an update of `kind` (``message``, ``callback_query``...) for the bot.

        Updates the bot would not receive (`deliver` false, or a kind outside its
        allowed_updates) still get an update_id but are dropped at once, marked fetched so that
        nobody waits for them.
        """
        bot = self.bot(token)
        bot.last_update_id += 1
        update_id = bot.last_update_id
        encoded = json.dumps(
            {"update_id": update_id, kind: payload}, ensure_ascii=False, separators=(",", ":")
        )
        now = time.monotonic()
        pending = PendingUpdate(update_id, kind, encoded, now)
        if not deliver or kind not in bot.allowed_updates:
            pending.dropped = True
            pending.mark_fetched(now)
            return pending
        bot.updates.append(pending)
        if bot.poller is not None and not bot.poller.done():
            bot.poller.set_result("update")
        if bot.webhook is not None:
            bot.webhook.wake.set()
        self._notify()
        return pending

    def pending_updates(self, token: str | None = None) -> list[PendingUpdate]:
        return list(self.bot(token).updates)

    def _confirm(self, bot: SandboxBot, offset: int) -> None:
        queue = bot.updates
        now = time.monotonic()
        if offset < 0:
            while len(queue) > -offset:
                queue.popleft().mark_fetched(now)
            return
        while queue and queue[0].update_id < offset:
            queue.popleft().mark_fetched(now)

    def _drop_pending(self, bot: SandboxBot) -> None:
        now = time.monotonic()
        while bot.updates:
            dropped = bot.updates.popleft()
            dropped.dropped = True
            dropped.mark_fetched(now)
        self._notify()

    def _hand_over(self, bot: SandboxBot, batch: list[PendingUpdate]) -> bytes:
        if batch:
            now = time.monotonic()
            for pending in batch:
                pending.mark_fetched(now)
            self._last_activity = now
            self._notify()
        return b'{"ok":true,"result":[' + ",".join(p.payload for p in batch).encode() + b"]}"

    async def _get_updates(self, bot: SandboxBot, p: _Params, handler: _ApiHandler) -> bytes | None:
        if bot.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.get_int("offset")
        limit = p.get_int("limit")
        limit = 100 if limit is None or limit > 100 else max(1, limit)
        timeout = max(0.0, min(p.get_float("timeout") or 0.0, 50.0))
        allowed = p.get_json("allowed_updates", "allowed updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise _bad("can't parse allowed updates JSON object")
            bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
        if offset is not None:
            self._confirm(bot, offset)
        if bot.poller is not None and not bot.poller.done():
            # Like Telegram: a new getUpdates terminates the one still waiting.
            bot.poller.set_result("conflict")
        deadline = time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        while True:
            batch = list(itertools.islice(bot.updates, limit))
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self._stopping:
                return self._hand_over(bot, batch)
            poll: asyncio.Future[str] = loop.create_future()
            bot.poller = handler.poll = poll
            try:
                await asyncio.wait([poll], timeout=remaining)
            finally:
                if bot.poller is poll:
                    bot.poller = None
                handler.poll = None
            if not poll.done():
                poll.cancel()
                continue
            reason = poll.result()
            if reason == "closed":
                return None
            if reason == "conflict":
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if reason == "down":
                raise ApiError(502, "Bad Gateway")
            if reason == "webhook":
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            # "update" or "stop": look at the queue again

    # -- webhook delivery -------------------------------------------------------------------------
    def _start_webhook(self, bot: SandboxBot) -> None:
        hook = bot.webhook
        if hook is None or not self._started:
            return
        if hook.task is None or hook.task.done():
            hook.task = asyncio.get_running_loop().create_task(
                self._deliver_webhook(bot, hook), name=f"sandbox-webhook-{bot.id}"
            )
        hook.wake.set()

    async def _stop_webhook(self, bot: SandboxBot) -> None:
        hook = bot.webhook
        bot.webhook = None
        if hook is not None and hook.task is not None:
            hook.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hook.task

    async def _deliver_webhook(self, bot: SandboxBot, hook: _Webhook) -> None:
        """POST queued updates one by one, in order, retrying with backoff until accepted."""
        backoff = 0.05
        while bot.webhook is hook and not self._stopping:
            if not bot.updates or self._down:
                hook.wake.clear()
                if self._down:
                    await asyncio.sleep(0.05)
                else:
                    await hook.wake.wait()
                continue
            pending = bot.updates[0]
            headers = {"Content-Type": "application/json"}
            if hook.secret_token:
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
            assert self._http is not None
            error: str | None = None
            self.stats.webhook_posts += 1
            try:
                response = await self._http.post(
                    hook.url, content=pending.payload.encode(), headers=headers
                )
                if not 200 <= response.status_code < 300:
                    error = (
                        f"Wrong response from the webhook: {response.status_code} "
                        f"{response.reason_phrase}"
                    )
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if error is None:
                if bot.updates and bot.updates[0] is pending:
                    bot.updates.popleft()
                now = time.monotonic()
                pending.mark_fetched(now)
                self._last_activity = now
                self._notify()
                backoff = 0.05
                continue
            self.stats.webhook_failures += 1
            hook.last_error_date = int(self.wall_clock())
            hook.last_error_message = error
            _log.debug("sandbox webhook delivery failed: %s", error)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    # -- HTTP -------------------------------------------------------------------------------------
    async def _serve(self, handler: _ApiHandler, token: str, method: str) -> None:
        self._serving += 1
        try:
            await self._serve_one(handler, token, method)
        finally:
            self._serving -= 1
            if self._stopping:
                self._notify()

    async def _serve_one(self, handler: _ApiHandler, token: str, method: str) -> None:
        key = method.lower()
        canonical = _CANONICAL.get(key)
        self.stats.requests[canonical or method] += 1
        counted = key != "getupdates"  # long polls are waiting, not working
        if counted:
            self._in_flight += 1
            self._last_activity = time.monotonic()
        up, down = self._draw_latency()
        try:
            if up > 0:
                await asyncio.sleep(up)  # the way there: the request arrives after it
            status, body, delay = await self._answer(handler, token, canonical)
            delay += down  # the way back
        finally:
            if counted:
                self._in_flight -= 1
                self._last_activity = time.monotonic()
                self._notify()
        if status == 0:
            return  # the client went away during a long poll
        self.stats.statuses[status] += 1
        if status == 429:
            self.stats.flood_429 += 1
        if 400 <= status < 500:
            self.stats.client_errors += 1
        elif status >= 500:
            self.stats.server_errors += 1
        if delay > 0 and self._stop_event is not None:
            # "timeout then deliver": done and recorded, but answered too late for the client
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), delay)
        if handler.request.connection is None:
            return
        handler.set_status(status)
        handler.set_header("Content-Type", "application/json")
        with contextlib.suppress(StreamClosedError):
            await handler.finish(body)

    async def _answer(
        self, handler: _ApiHandler, token: str, method: str | None
    ) -> tuple[int, bytes, float]:
        if self._down:
            return 502, ApiError(502, "Bad Gateway").body(), 0.0
        if self._latency > 0:
            await asyncio.sleep(self._latency)
            if self._down:
                return 502, ApiError(502, "Bad Gateway").body(), 0.0
        bot = self._bots.get(token)
        if bot is None:
            return 401, ApiError(401, "Unauthorized").body(), 0.0
        if method is None:
            return 404, ApiError(404, "Not Found").body(), 0.0
        delay = 0.0
        if self._faults:
            fault = next((f for f in self._faults if f.matches(method)), None)
            if fault is not None:
                fault.remaining -= 1
                self._faults = [f for f in self._faults if f.remaining > 0]
                self.stats.injected += 1
                if fault.kind == "429":
                    err = ApiError(
                        429,
                        f"Too Many Requests: retry after {fault.retry_after}",
                        retry_after=fault.retry_after,
                    )
                    return 429, err.body(), 0.0
                if fault.kind == "error":
                    phrase = HTTPStatus(fault.status).phrase
                    return fault.status, ApiError(fault.status, phrase).body(), 0.0
                delay = fault.delay
        try:
            params = _read_params(handler.request)
            if method == "getUpdates":
                body = await self._get_updates(bot, params, handler)
                if body is None:
                    return 0, b"", 0.0
                return 200, body, 0.0
            result = _METHODS[method.lower()][1](self, bot, params)
        except ApiError as err:
            return err.status, err.body(), delay
        return 200, _ok(result), delay

    # -- synchronisation (simulator, benchmarks) --------------------------------------------------
    @property
    def in_flight(self) -> int:
        """Bot API requests being answered now (long polls excluded)."""
        return self._in_flight

    @property
    def last_activity(self) -> float:
        """time.monotonic() of the last request start or end, or update hand-over."""
        return self._last_activity

    def _notify(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def wait_for_change(self, max_wait: float) -> None:
        """Return when something happens (a request ends, a message is recorded, an update is
        fetched...) or after `max_wait` seconds."""
        if max_wait <= 0:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await asyncio.wait([waiter], timeout=max_wait)
        if not waiter.done():
            waiter.cancel()

    async def wait_fetched(self, updates: Iterable[PendingUpdate], max_wait: float = 5.0) -> bool:
        """Wait until the bot fetched every update; False after `max_wait` seconds."""
        pending = [u for u in updates if not u.fetched]
        deadline = time.monotonic() + max_wait
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await self.wait_for_change(remaining)
            pending = [u for u in pending if not u.fetched]
        return True

    async def wait_idle(
        self,
        *,
        quiet: float = 0.03,
        max_wait: float = 5.0,
        busy: Callable[[], bool] | None = None,
    ) -> bool:
        """Wait until no request is in flight, none started for `quiet` seconds, and `busy()`
        (e.g. "the application is still handling an update") is false. False after
        `max_wait` seconds."""
        deadline = time.monotonic() + max_wait
        while True:
            now = time.monotonic()
            if now >= deadline:
                return False
            if self._in_flight == 0 and not (busy is not None and busy()):
                idle_for = now - self._last_activity
                if idle_for >= quiet:
                    return True
                await asyncio.sleep(min(quiet - idle_for, deadline - now))
            else:
                await self.wait_for_change(min(quiet, deadline - now))

    # -- fault injection --------------------------------------------------------------------------
    def inject_429(
        self, retry_after: int, count: int = 1, method: str | None = "sendMessage"
    ) -> None:
        """The next `count` calls of `method` (None: any but getUpdates) get 429."""
        self._faults.append(_Fault("429", method, count, retry_after=retry_after))

    def inject_errors(self, status: int = 500, count: int = 1, method: str | None = None) -> None:
        """The next `count` calls of `method` (None: any but getUpdates) get `status` (5xx)."""
        self._faults.append(_Fault("error", method, count, status=status))

    def set_timeout_then_deliver(
        self, count: int = 1, *, delay: float = 6.0, method: str | None = None
    ) -> None:
        """The next `count` calls of `method` (None: any but getUpdates) are carried out and
        recorded, but answered only after `delay` seconds: past the client's read timeout, this
        is a TimedOut for a message Telegram actually delivered."""
        self._faults.append(_Fault("timeout", method, count, delay=delay))

    def set_latency(self, seconds: float) -> None:
        """Delay every answer by `seconds` (0 to stop)."""
        self._latency = max(0.0, seconds)

    def _draw_latency(self) -> tuple[float, float]:
        """(way there, way back) of one request's random round trip; (0, 0) when off."""
        if self.latency is None:
            return 0.0, 0.0
        low, high = self.latency
        round_trip = self._latency_rng.uniform(low, high)
        up = round_trip * self.latency_uplink
        return up, round_trip - up

    def go_down(self) -> None:
        """Every request (pending long polls too) gets 502 Bad Gateway until `come_back`."""
        self._down = True
        for bot in self._bots.values():
            if bot.poller is not None and not bot.poller.done():
                bot.poller.set_result("down")

    def come_back(self) -> None:
        self._down = False
        for bot in self._bots.values():
            if bot.webhook is not None:
                bot.webhook.wake.set()

    def clear_faults(self) -> None:
        self._faults.clear()
        self._latency = 0.0
        self._down = False

    # -- records ----------------------------------------------------------------------------------
    def messages_to(self, chat_id: int, *, token: str | None = None) -> list[SentMessage]:
        """Every message the bot sent to the chat, in order (deleted ones flagged)."""
        log = self.bot(token).chats.get(chat_id)
        return list(log.messages) if log is not None else []

    def message(self, chat_id: int, message_id: int, *, token: str | None = None) -> SentMessage:
        return self.bot(token).chats[chat_id].by_id[message_id]

    def all_sent(self, *, token: str | None = None) -> list[SentMessage]:
        """Every message the bot sent, in order."""
        return list(self.bot(token).sent)

    def sent_count_by_chat(self, *, token: str | None = None) -> dict[int, int]:
        return dict(Counter(m.chat_id for m in self.bot(token).sent))

    def callback_queries(self, *, token: str | None = None) -> list[CallbackQueryRecord]:
        return list(self.bot(token).callback_queries.values())

    def inbox(self, chat_id: int, *, token: str | None = None) -> list[InboxEvent]:
        """The bot's messages appearing or changing in the chat, in order (the simulator's
        view)."""
        log = self.bot(token).chats.get(chat_id)
        return log.events if log is not None else []

    def reply_keyboard(self, chat_id: int, *, token: str | None = None) -> Json | None:
        """The reply keyboard currently shown in the chat."""
        log = self.bot(token).chats.get(chat_id)
        return log.reply_keyboard if log is not None else None

    def user_messages(self, chat_id: int, *, token: str | None = None) -> dict[int, Json]:
        log = self.bot(token).chats.get(chat_id)
        return log.user_messages if log is not None else {}

    def commands(
        self, scope: str = "default", language_code: str = "", *, token: str | None = None
    ) -> list[tuple[str, str]]:
        """Commands set for a scope key (``default``, ``all_private_chats``,
        ``all_group_chats``, ``all_chat_administrators``, ``chat:<id>``,
        ``chat_administrators:<id>``, ``chat_member:<chat>:<user>``) and language."""
        found = self.bot(token).commands.get((scope, language_code), [])
        return [(c["command"], c["description"]) for c in found]

    def visible_commands(
        self, chat_id: int, language_code: str = "", *, token: str | None = None
    ) -> list[tuple[str, str]]:
        """The command menu a client shows in this chat, resolved like Telegram does."""
        bot = self.bot(token)
        scopes = [f"chat:{chat_id}"]
        scopes.append("all_private_chats" if chat_id > 0 else "all_group_chats")
        scopes.append("default")
        for scope in scopes:
            for lang in ([language_code] if language_code else []) + [""]:
                found = bot.commands.get((scope, lang))
                if found:
                    return [(c["command"], c["description"]) for c in found]
        return []

    def menu_button(self, chat_id: int | None = None, *, token: str | None = None) -> Json:
        bot = self.bot(token)
        return bot.menu_buttons.get(chat_id) or bot.menu_buttons.get(None) or {"type": "commands"}

    def file(self, file_id: str) -> StoredFile:
        return self._files[file_id]

    # -- files ----------------------------------------------------------------------------------
    def store_file(
        self,
        data: bytes,
        *,
        kind: Literal["photo", "document", "sticker", "voice"],
        filename: str | None = None,
        mime_type: str | None = None,
        width: int = 0,
        height: int = 0,
    ) -> StoredFile:
        """Keep a file and give it a file_id (uploads, and what simulated users send)."""
        n = next(self._file_counter)
        prefix = {"photo": "AgAC", "document": "BQAC", "sticker": "CAAC", "voice": "AwAC"}[kind]
        ext = None
        if filename and "." in filename:
            ext = filename.rsplit(".", 1)[1].lower()
        if ext is None and mime_type:
            ext = _EXTENSIONS.get(mime_type)
        folder = {
            "photo": "photos",
            "document": "documents",
            "sticker": "stickers",
            "voice": "voice",
        }
        path = f"{folder[kind]}/file_{n}" + (f".{ext}" if ext else "")
        stored = StoredFile(
            file_id=f"{prefix}sbx{n:07d}{kind[:3]}",
            file_unique_id=f"AQAD{n:07d}",
            kind=kind,
            data=data,
            filename=filename,
            mime_type=mime_type,
            file_path=path,
            width=width,
            height=height,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[path] = stored
        return stored

    @staticmethod
    def photo_sizes(stored: StoredFile) -> list[Json]:
        return [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": stored.size,
                "width": stored.width,
                "height": stored.height,
            }
        ]

    @staticmethod
    def document_json(stored: StoredFile) -> Json:
        doc: Json = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if stored.filename:
            doc["file_name"] = stored.filename
        if stored.mime_type:
            doc["mime_type"] = stored.mime_type
        return doc

    def _input_file(self, p: _Params, name: str, kind: Literal["photo", "document"]) -> StoredFile:
        upload = p.files.get(name)
        if upload is None:
            ref = p.get_str(name)
            if not ref:
                raise _bad(f"there is no {name} in the request")
            if ref.startswith("attach://"):
                upload = p.files.get(ref[len("attach://") :])
                if upload is None:
                    raise _bad(f"there is no {name} in the request")
            else:
                stored = self._files.get(ref)
                if stored is None:
                    raise _bad("wrong file identifier/HTTP URL specified")
                if (kind == "photo") != (stored.kind == "photo"):
                    raise _bad("type of file mismatch")
                return stored
        data = upload.body
        if not data:
            raise _bad("file must be non-empty")
        if kind == "photo":
            if len(data) > _PHOTO_LIMIT:
                raise _bad("PHOTO_SAVE_FILE_INVALID")
            size = image_size(data)
            if size is None:
                raise _bad("IMAGE_PROCESS_FAILED")
            return self.store_file(
                data,
                kind="photo",
                filename=upload.filename,
                mime_type=upload.content_type,
                width=size[0],
                height=size[1],
            )
        if len(data) > _DOCUMENT_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        return self.store_file(
            data, kind="document", filename=upload.filename, mime_type=upload.content_type
        )

    # -- simulated users' actions (used by the simulator) -----------------------------------------
    def _sender(self, bot: SandboxBot, user_id: int, chat_id: int) -> tuple[SimUserState, _ChatLog]:
        user = self._users.get(user_id)
        if user is None:
            raise KeyError(f"unknown user {user_id}: add_user() first")
        if chat_id > 0:
            if chat_id != user_id:
                raise ValueError("a user can only write in their own private chat with the bot")
            if bot.id in user.blocked:
                raise RuntimeError(f"user {user_id} has blocked the bot: unblock() first")
            user.started.add(bot.id)
            return user, bot.chat(chat_id, user.chat_json())
        group = self._groups.get(chat_id)
        if group is None:
            raise KeyError(f"unknown group {chat_id}: add_group() first")
        if user_id not in group.members:
            raise ValueError(f"user {user_id} is not a member of group {chat_id}")
        return user, bot.chat(chat_id, group.chat_json())

    def user_says(
        self, user_id: int, chat_id: int, content: Json, *, token: str | None = None
    ) -> tuple[PendingUpdate, Json]:
        """A user sends a message (`content`: ``text``+``entities``, ``photo``, ...) in a chat."""
        bot = self.bot(token)
        user, log = self._sender(bot, user_id, chat_id)
        message: Json = {
            "message_id": log.new_id(),
            "from": user.to_json(),
            "chat": log.chat_json,
            "date": int(self.wall_clock()),
            **content,
        }
        log.user_messages[message["message_id"]] = message
        # privacy mode: Telegram never gives the bot other group messages
        visible = chat_id > 0 or not bot.privacy_mode or self._group_visible(bot, message)
        pending = self.push_update("message", message, token=bot.token, deliver=visible)
        return pending, message

    @staticmethod
    def _group_visible(bot: SandboxBot, message: Json) -> bool:
        text = message.get("text") or message.get("caption") or ""
        if text.startswith("/"):
            first = text.split(maxsplit=1)[0]
            return "@" not in first or first.split("@", 1)[1].lower() == bot.username.lower()
        reply = message.get("reply_to_message")
        if isinstance(reply, dict) and reply.get("from", {}).get("id") == bot.id:
            return True
        return f"@{bot.username.lower()}" in text.lower()

    def user_edits(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        content: Json,
        *,
        token: str | None = None,
    ) -> tuple[PendingUpdate, Json]:
        """A user edits one of their messages: an ``edited_message`` update."""
        bot = self.bot(token)
        _, log = self._sender(bot, user_id, chat_id)
        original = log.user_messages.get(message_id)
        if original is None or original["from"]["id"] != user_id:
            raise KeyError(f"user {user_id} has no message {message_id} in chat {chat_id}")
        edited = {k: v for k, v in original.items() if k not in ("text", "entities")}
        edited.update(content)
        edited["edit_date"] = int(self.wall_clock())
        log.user_messages[message_id] = edited
        return self.push_update("edited_message", edited, token=bot.token), edited

    def user_clicks(
        self,
        user_id: int,
        message: SentMessage,
        callback_data: str,
        *,
        token: str | None = None,
    ) -> tuple[PendingUpdate, CallbackQueryRecord]:
        """A user taps an inline button with `callback_data` under a bot message."""
        bot = self.bot(token)
        user, _ = self._sender(bot, user_id, message.chat_id)
        query_id = f"{bot.id % 10**6}{next(self._callback_counter):012d}"
        record = CallbackQueryRecord(
            id=query_id,
            user_id=user_id,
            chat_id=message.chat_id,
            message_id=message.message_id,
            data=callback_data,
            created_at=time.monotonic(),
        )
        bot.callback_queries[query_id] = record
        payload = {
            "id": query_id,
            "from": user.to_json(),
            "message": self._message_json(bot, message),
            "chat_instance": str(abs(message.chat_id) * 7919 + bot.id),
            "data": callback_data,
        }
        return self.push_update("callback_query", payload, token=bot.token), record

    # -- what the bot may do --------------------------------------------------------------------
    def _writable(self, bot: SandboxBot, chat_id: int) -> _ChatLog:
        """The chat log, if the bot may write there; else Telegram's error."""
        if chat_id > 0:
            user = self._users.get(chat_id)
            if user is None:
                raise _bad("chat not found")
            if user.deactivated:
                raise _forbidden("user is deactivated")
            if bot.id in user.blocked:
                raise _forbidden("bot was blocked by the user")
            if bot.id not in user.started:
                raise _forbidden("bot can't initiate conversation with a user")
            return bot.chat(chat_id, user.chat_json())
        group = self._groups.get(chat_id)
        if group is None:
            raise _bad("chat not found")
        if not group.bot_member:
            kind = "supergroup" if group.supergroup else "group"
            raise _forbidden(f"bot is not a member of the {kind} chat")
        return bot.chat(chat_id, group.chat_json())

    def _known_chat(self, bot: SandboxBot, chat_id: int) -> Json:
        """The Chat object of a chat the bot knows (for getChat and scopes)."""
        if chat_id > 0:
            user = self._users.get(chat_id)
            if user is None or bot.id not in user.started:
                raise _bad("chat not found")
            return user.chat_json()
        group = self._groups.get(chat_id)
        if group is None or not group.bot_member:
            raise _bad("chat not found")
        return group.chat_json()

    def _flood(self, bot: SandboxBot, chat_id: int) -> None:
        """A new message arrives: refuse it (429) past the flood limits, else count it."""
        now = time.monotonic()
        if self.flood_limits:
            _too_many(bot.limiter.check(chat_id, now))
        self.stats.accepted.append(now)

    def _flood_edit(self, bot: SandboxBot) -> None:
        """An edit arrives: in strict mode it counts in the bot's global window."""
        now = time.monotonic()
        if self.flood_limits and self.strict_flood:
            _too_many(bot.limiter.check_global(now))
        self.stats.accepted.append(now)

    def _formatted(
        self, p: _Params, text_key: str, entities_key: str, *, caption: bool
    ) -> tuple[str | None, str, list[Json] | None, str | None]:
        """(raw, plain, entities, parse_mode) of a text or caption, checked like Telegram."""
        raw = p.get_str(text_key)
        parse_mode = p.get_str("parse_mode") or None
        if not raw:
            if caption:
                return None, "", None, parse_mode
            raise _bad("message text is empty")
        given = p.get_json(entities_key, "entities")
        entities: list[Json]
        if given is not None:
            if not isinstance(given, list) or not all(
                isinstance(e, dict)
                and isinstance(e.get("type"), str)
                and isinstance(e.get("offset"), int)
                and isinstance(e.get("length"), int)
                for e in given
            ):
                raise _bad("can't parse entities JSON object")
            plain, entities = raw, given
        elif parse_mode is not None:
            mode = parse_mode.lower()
            if mode == "html":
                try:
                    plain, entities = parse_html(raw, strict_ampersand=self.strict_ampersand)
                except EntityParseError as exc:
                    raise _bad(f"can't parse entities: {exc}") from None
            elif mode in ("markdown", "markdownv2"):
                raise _bad(
                    f"can't parse entities: the sandbox supports parse_mode HTML only, "
                    f"not {parse_mode}"
                )
            else:
                raise _bad("unsupported parse_mode")
        else:
            plain, entities = raw, []
        plain, entities = finalize_text(plain, entities)
        if caption:
            if len(plain) > _CAPTION_LIMIT:
                raise _bad("message caption is too long")
        else:
            if not plain:
                raise _bad("message must be non-empty")
            if len(plain) > _TEXT_LIMIT:
                raise _bad("message is too long")
        return raw, plain, entities or None, parse_mode

    def _markup(self, p: _Params, *, inline_only: bool = False) -> Json | None:
        markup = p.get_json("reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            _check_inline_keyboard(markup["inline_keyboard"])
            return markup
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in markup:
            _check_reply_keyboard(markup)
            return markup
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return markup
        raise _bad("can't parse reply keyboard markup JSON object")

    def _reply_to(self, bot: SandboxBot, log: _ChatLog, p: _Params) -> Json | None:
        params = p.get_json("reply_parameters", "reply parameters")
        message_id: int | None = None
        allow = False
        if isinstance(params, dict):
            raw_id = params.get("message_id")
            message_id = raw_id if isinstance(raw_id, int) else None
            allow = bool(params.get("allow_sending_without_reply"))
            if message_id is None:
                raise _bad("can't parse reply parameters JSON object")
        elif p.has("reply_to_message_id"):
            message_id = p.get_int("reply_to_message_id")
            allow = p.get_bool("allow_sending_without_reply")
        if message_id is None:
            return None
        sent = log.by_id.get(message_id)
        if sent is not None and not sent.deleted:
            return self._message_json(bot, sent)
        received = log.user_messages.get(message_id)
        if received is not None:
            return received
        if allow:
            return None
        raise _bad("message to be replied not found")

    def _record(
        self,
        bot: SandboxBot,
        log: _ChatLog,
        *,
        method: str,
        kind: MessageKind,
        raw: str | None,
        parse_mode: str | None,
        plain: str,
        entities: list[Json] | None,
        markup: Json | None,
        photo: StoredFile | None = None,
        document: StoredFile | None = None,
        content: Json | None = None,
        media_group_id: str | None = None,
    ) -> SentMessage:
        now = time.monotonic()
        wall = self.wall_clock()
        message = SentMessage(
            bot_id=bot.id,
            chat_id=log.chat_id,
            message_id=log.new_id(),
            seq=len(bot.sent) + 1,
            method=method,
            kind=kind,
            raw=raw,
            parse_mode=parse_mode,
            plain=plain,
            entities=entities,
            reply_markup=markup,
            sent_at=now,
            wall=wall,
            date=int(wall),
            photo=photo,
            document=document,
            content=content,
            media_group_id=media_group_id,
        )
        log.messages.append(message)
        log.by_id[message.message_id] = message
        bot.sent.append(message)
        log.events.append(InboxEvent(message, "new", plain, now))
        if markup is not None:
            if "keyboard" in markup:
                log.reply_keyboard = markup
            elif markup.get("remove_keyboard"):
                log.reply_keyboard = None
        self._notify()
        return message

    def message_json(self, message: SentMessage, *, token: str | None = None) -> Json:
        """The Message object Telegram would give for a bot message (as in a callback query)."""
        return self._message_json(self.bot(token), message)

    def _message_json(
        self, bot: SandboxBot, message: SentMessage, *, reply_to: Json | None = None
    ) -> Json:
        result: Json = {
            "message_id": message.message_id,
            "from": bot.user_json,
            "chat": bot.chats[message.chat_id].chat_json,
            "date": message.date,
        }
        if message.edit_date is not None:
            result["edit_date"] = message.edit_date
        if message.media_group_id is not None:
            result["media_group_id"] = message.media_group_id
        if reply_to is not None:
            result["reply_to_message"] = reply_to
        if message.kind == "text":
            result["text"] = message.plain
            if message.entities:
                result["entities"] = message.entities
        else:
            if message.photo is not None:
                result["photo"] = self.photo_sizes(message.photo)
            elif message.document is not None:
                result["document"] = self.document_json(message.document)
            elif message.content is not None:
                result.update(message.content)
            if message.plain:
                result["caption"] = message.plain
                if message.entities:
                    result["caption_entities"] = message.entities
        markup = message.reply_markup
        if markup is not None and "inline_keyboard" in markup:
            result["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        return result

    def _editable(self, bot: SandboxBot, p: _Params) -> tuple[_ChatLog, SentMessage]:
        if p.has("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")  # the sandbox has no inline mode
        chat_id = p.chat_id()
        log = self._writable(bot, chat_id)
        message_id = p.message_id()
        message = log.by_id.get(message_id)
        if message is None or message.deleted:
            if message_id in log.user_messages:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return log, message

    def _apply_edit(
        self,
        bot: SandboxBot,
        log: _ChatLog,
        message: SentMessage,
        method: str,
        *,
        raw: str | None,
        parse_mode: str | None,
        plain: str,
        entities: list[Json] | None,
        markup: Json | None,
    ) -> None:
        if plain == message.plain and entities == message.entities and markup == _inline(message):
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        self._flood_edit(bot)
        now = time.monotonic()
        wall = self.wall_clock()
        message.edits.append(
            MessageEdit(
                method=method,
                at=now,
                wall=wall,
                before_raw=message.raw,
                before_plain=message.plain,
                before_entities=message.entities,
                before_markup=message.reply_markup,
            )
        )
        message.raw = raw
        message.parse_mode = parse_mode
        message.plain = plain
        message.entities = entities
        message.reply_markup = markup
        message.edit_date = int(wall)
        log.events.append(InboxEvent(message, "edited", plain, now))
        self._notify()

    # -- Bot API methods ------------------------------------------------------------------------
    # Each `_m_<method>` answers one Bot API method: it returns the `result` or raises ApiError.

    def _m_getMe(self, bot: SandboxBot, p: _Params) -> object:
        return bot.me()

    def _m_logOut(self, bot: SandboxBot, p: _Params) -> object:
        return True

    def _m_close(self, bot: SandboxBot, p: _Params) -> object:
        return True

    def _m_getUpdates(self, bot: SandboxBot, p: _Params) -> object:  # pragma: no cover
        raise AssertionError("getUpdates is served by _get_updates")

    def _m_setWebhook(self, bot: SandboxBot, p: _Params) -> object:
        url = p.get_str("url") or ""
        if not url:
            self._m_deleteWebhook(bot, p)
            return True
        if not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get_str("secret_token")
        if secret is not None and not _SECRET.match(secret):
            raise _bad("secret token contains unallowed characters")
        max_connections = p.get_int("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        allowed = p.get_json("allowed_updates", "allowed updates")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise _bad("can't parse allowed updates JSON object")
            bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
        if p.get_bool("drop_pending_updates"):
            self._drop_pending(bot)
        old = bot.webhook
        hook = _Webhook(url, secret, max_connections, p.get_str("ip_address"))
        if old is not None:
            if old.task is not None:
                old.task.cancel()
            hook.last_error_date = old.last_error_date
            hook.last_error_message = old.last_error_message
        bot.webhook = hook
        if bot.poller is not None and not bot.poller.done():
            bot.poller.set_result("webhook")
        self._start_webhook(bot)
        return True

    def _m_deleteWebhook(self, bot: SandboxBot, p: _Params) -> object:
        hook = bot.webhook
        bot.webhook = None
        if hook is not None and hook.task is not None:
            hook.task.cancel()
        if p.get_bool("drop_pending_updates"):
            self._drop_pending(bot)
        return True

    def _m_getWebhookInfo(self, bot: SandboxBot, p: _Params) -> object:
        hook = bot.webhook
        info: Json = {
            "url": hook.url if hook is not None else "",
            "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
            if bot.allowed_updates != DEFAULT_ALLOWED_UPDATES:
                info["allowed_updates"] = sorted(bot.allowed_updates)
        return info

    def _m_sendMessage(self, bot: SandboxBot, p: _Params) -> object:
        chat_id = p.chat_id()
        log = self._writable(bot, chat_id)
        raw, plain, entities, parse_mode = self._formatted(p, "text", "entities", caption=False)
        markup = self._markup(p)
        reply_to = self._reply_to(bot, log, p)
        self._flood(bot, chat_id)
        message = self._record(
            bot,
            log,
            method="sendMessage",
            kind="text",
            raw=raw,
            parse_mode=parse_mode,
            plain=plain,
            entities=entities,
            markup=markup,
        )
        return self._message_json(bot, message, reply_to=reply_to)

    def _send_file(self, bot: SandboxBot, p: _Params, kind: Literal["photo", "document"]) -> Json:
        chat_id = p.chat_id()
        log = self._writable(bot, chat_id)
        stored = self._input_file(p, kind, kind)
        raw, plain, entities, parse_mode = self._formatted(
            p, "caption", "caption_entities", caption=True
        )
        markup = self._markup(p)
        reply_to = self._reply_to(bot, log, p)
        self._flood(bot, chat_id)
        message = self._record(
            bot,
            log,
            method="sendPhoto" if kind == "photo" else "sendDocument",
            kind=kind,
            raw=raw,
            parse_mode=parse_mode,
            plain=plain,
            entities=entities,
            markup=markup,
            photo=stored if kind == "photo" else None,
            document=stored if kind == "document" else None,
        )
        return self._message_json(bot, message, reply_to=reply_to)

    def _m_sendPhoto(self, bot: SandboxBot, p: _Params) -> object:
        return self._send_file(bot, p, "photo")

    def _m_sendDocument(self, bot: SandboxBot, p: _Params) -> object:
        return self._send_file(bot, p, "document")

    def _m_sendMediaGroup(self, bot: SandboxBot, p: _Params) -> object:
        """An album: 2-10 photos (or 2-10 documents, not mixed), each with an optional caption
        of at most 1024 characters. As Telegram does, an item that cannot be sent fails the
        whole request and is named: "failed to send message #N with the error message ..."."""
        chat_id = p.chat_id()
        log = self._writable(bot, chat_id)
        media = p.get_json("media", "media")
        if not isinstance(media, list) or not all(isinstance(m, dict) for m in media):
            raise _bad("can't parse media JSON object")
        if not _MEDIA_GROUP_MIN <= len(media) <= _MEDIA_GROUP_MAX:
            raise _bad("wrong number of media: an album has 2 to 10 items")
        kinds = {str(item.get("type")) for item in media}
        if not kinds <= {"photo", "video", "document", "audio"}:
            raise _bad("unsupported media type in the album")
        if "document" in kinds and kinds != {"document"}:
            raise _bad("documents can't be mixed with other media types")
        prepared: list[tuple[StoredFile, str | None, str, list[Json] | None, str | None]] = []
        for number, item in enumerate(media, start=1):
            kind: Literal["photo", "document"] = (
                "document" if item["type"] == "document" else "photo"
            )
            item_params = _Params(item, p.files)
            try:
                stored = self._input_file(item_params, "media", kind)
                raw, plain, entities, parse_mode = self._formatted(
                    item_params, "caption", "caption_entities", caption=True
                )
            except ApiError as exc:
                detail = exc.description.removeprefix("Bad Request: ")
                raise _bad(
                    f'failed to send message #{number} with the error message "{detail}"'
                ) from None
            prepared.append((stored, raw, plain, entities, parse_mode))
        reply_to = self._reply_to(bot, log, p)
        self._flood(bot, chat_id)
        group_id = f"sbx{next(self._file_counter):012d}"
        results: list[Json] = []
        for stored, raw, plain, entities, parse_mode in prepared:
            message = self._record(
                bot,
                log,
                method="sendMediaGroup",
                kind="photo" if stored.kind == "photo" else "document",
                raw=raw,
                parse_mode=parse_mode,
                plain=plain,
                entities=entities,
                markup=None,
                photo=stored if stored.kind == "photo" else None,
                document=stored if stored.kind != "photo" else None,
                media_group_id=group_id,
            )
            results.append(self._message_json(bot, message, reply_to=reply_to))
        return results

    def _m_sendVoice(self, bot: SandboxBot, p: _Params) -> object:
        """A voice note: a voice file_id (what a user sent, relayed) or an OGG upload."""
        chat_id = p.chat_id()
        log = self._writable(bot, chat_id)
        upload = p.files.get("voice")
        ref = p.get_str("voice")
        if upload is None and ref and ref.startswith("attach://"):
            upload = p.files.get(ref[len("attach://") :])
        if upload is not None:
            if not upload.body:
                raise _bad("file must be non-empty")
            stored = self.store_file(upload.body, kind="voice", mime_type="audio/ogg")
        else:
            if not ref:
                raise _bad("there is no voice in the request")
            found = self._files.get(ref)
            if found is None:
                raise _bad("wrong file identifier/HTTP URL specified")
            if found.kind != "voice":
                raise _bad("type of file mismatch")
            stored = found
        raw, plain, entities, parse_mode = self._formatted(
            p, "caption", "caption_entities", caption=True
        )
        markup = self._markup(p)
        reply_to = self._reply_to(bot, log, p)
        self._flood(bot, chat_id)
        voice: Json = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": p.get_int("duration") or 1,
            "mime_type": "audio/ogg",
            "file_size": stored.size,
        }
        message = self._record(
            bot,
            log,
            method="sendVoice",
            kind="voice",
            raw=raw,
            parse_mode=parse_mode,
            plain=plain,
            entities=entities,
            markup=markup,
            content={"voice": voice},
        )
        return self._message_json(bot, message, reply_to=reply_to)

    def forget_file(self, file_id: str) -> None:
        """Telegram no longer has this file (tests: an album with a photo gone)."""
        stored = self._files.pop(file_id, None)
        if stored is not None:
            self._files_by_path.pop(stored.file_path, None)

    def _m_copyMessage(self, bot: SandboxBot, p: _Params) -> object:
        chat_id = p.chat_id()
        from_chat_id = p.chat_id("from_chat_id")
        message_id = p.message_id()
        source_log = bot.chats.get(from_chat_id)
        if source_log is None:
            raise _bad("chat not found")
        log = self._writable(bot, chat_id)
        kind: MessageKind
        raw: str | None
        parse_mode: str | None
        plain: str
        entities: list[Json] | None
        markup: Json | None
        photo: StoredFile | None = None
        document: StoredFile | None = None
        content: Json | None = None
        sent = source_log.by_id.get(message_id)
        received = source_log.user_messages.get(message_id)
        if sent is not None and not sent.deleted:
            kind, raw, parse_mode = sent.kind, sent.raw, sent.parse_mode
            plain, entities = sent.plain, sent.entities
            photo, document, content = sent.photo, sent.document, sent.content
            markup = (
                sent.reply_markup
                if sent.reply_markup and "inline_keyboard" in sent.reply_markup
                else None
            )
        elif received is not None:
            markup = None
            parse_mode = None
            if "text" in received:
                kind, raw, plain = "text", received["text"], received["text"]
                entities = received.get("entities")
            else:
                raw = received.get("caption")
                plain = raw or ""
                entities = received.get("caption_entities")
                if "photo" in received:
                    kind = "photo"
                    photo = self._files.get(received["photo"][-1]["file_id"])
                elif "document" in received:
                    kind = "document"
                    document = self._files.get(received["document"]["file_id"])
                else:
                    found = next(
                        (k for k in ("sticker", "voice", "location", "contact") if k in received),
                        None,
                    )
                    if found is None:
                        raise _bad("message can't be copied")
                    kind = found
                    content = {found: received[found]}
        else:
            raise _bad("message to copy not found")
        if kind != "text" and (p.has("caption") or p.has("caption_entities")):
            raw, plain, entities, parse_mode = self._formatted(
                p, "caption", "caption_entities", caption=True
            )
        given_markup = self._markup(p)
        if given_markup is not None:
            markup = given_markup
        self._flood(bot, chat_id)
        message = self._record(
            bot,
            log,
            method="copyMessage",
            kind=kind,
            raw=raw,
            parse_mode=parse_mode,
            plain=plain,
            entities=entities,
            markup=markup,
            photo=photo,
            document=document,
            content=content,
        )
        return {"message_id": message.message_id}

    def _m_editMessageText(self, bot: SandboxBot, p: _Params) -> object:
        log, message = self._editable(bot, p)
        if message.kind != "text":
            raise _bad("there is no text in the message to edit")
        raw, plain, entities, parse_mode = self._formatted(p, "text", "entities", caption=False)
        markup = self._markup(p, inline_only=True)
        self._apply_edit(
            bot,
            log,
            message,
            "editMessageText",
            raw=raw,
            parse_mode=parse_mode,
            plain=plain,
            entities=entities,
            markup=markup,
        )
        return self._message_json(bot, message)

    def _m_editMessageCaption(self, bot: SandboxBot, p: _Params) -> object:
        log, message = self._editable(bot, p)
        if message.kind == "text":
            raise _bad("there is no caption in the message to edit")
        raw, plain, entities, parse_mode = self._formatted(
            p, "caption", "caption_entities", caption=True
        )
        markup = self._markup(p, inline_only=True)
        self._apply_edit(
            bot,
            log,
            message,
            "editMessageCaption",
            raw=raw,
            parse_mode=parse_mode,
            plain=plain,
            entities=entities,
            markup=markup,
        )
        return self._message_json(bot, message)

    def _m_editMessageReplyMarkup(self, bot: SandboxBot, p: _Params) -> object:
        log, message = self._editable(bot, p)
        markup = self._markup(p, inline_only=True)
        self._apply_edit(
            bot,
            log,
            message,
            "editMessageReplyMarkup",
            raw=message.raw,
            parse_mode=message.parse_mode,
            plain=message.plain,
            entities=message.entities,
            markup=markup,
        )
        return self._message_json(bot, message)

    def _delete(self, bot: SandboxBot, log: _ChatLog, message_id: int) -> bool:
        message = log.by_id.get(message_id)
        if message is not None and not message.deleted:
            message.deleted = True
            message.deleted_at = time.monotonic()
            self._notify()
            return True
        if log.chat_id > 0 and message_id in log.user_messages:
            # bots may delete incoming messages in private chats
            del log.user_messages[message_id]
            return True
        return False

    def _m_deleteMessage(self, bot: SandboxBot, p: _Params) -> object:
        chat_id = p.chat_id()
        log = bot.chats.get(chat_id)
        if log is None:
            self._known_chat(bot, chat_id)
            raise _bad("message to delete not found")
        if not self._delete(bot, log, p.message_id()):
            raise _bad("message to delete not found")
        return True

    def _m_deleteMessages(self, bot: SandboxBot, p: _Params) -> object:
        chat_id = p.chat_id()
        ids = p.get_json("message_ids", "message identifiers")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("message identifiers are not specified")
        log = bot.chats.get(chat_id)
        if log is None:
            self._known_chat(bot, chat_id)
            return True
        for message_id in ids:
            if isinstance(message_id, int):
                self._delete(bot, log, message_id)
        return True

    def _m_answerCallbackQuery(self, bot: SandboxBot, p: _Params) -> object:
        query_id = p.get_str("callback_query_id")
        record = bot.callback_queries.get(query_id or "")
        if record is None or record.answered:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = p.get_str("text")
        if text is not None and len(text) > _CALLBACK_ANSWER_LIMIT:
            raise _bad("MESSAGE_TOO_LONG")
        record.answered = True
        record.answered_at = time.monotonic()
        record.text = text
        record.show_alert = p.get_bool("show_alert")
        record.url = p.get_str("url")
        record.cache_time = p.get_int("cache_time")
        self._notify()
        return True

    def _m_sendChatAction(self, bot: SandboxBot, p: _Params) -> object:
        chat_id = p.chat_id()
        self._writable(bot, chat_id)
        action = p.get_str("action")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        bot.chat_actions[(chat_id, action)] += 1
        self.stats.chat_actions += 1
        return True

    def _scope_key(self, bot: SandboxBot, p: _Params) -> str:
        scope = p.get_json("scope", "BotCommandScope")
        if scope is None:
            return "default"
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
            raise _bad("can't parse BotCommandScope JSON object")
        kind = str(scope["type"])
        if kind not in ("chat", "chat_administrators", "chat_member"):
            return kind
        raw_chat = scope.get("chat_id")
        try:
            chat_id = int(str(raw_chat))
        except (TypeError, ValueError):
            raise _bad("chat not found") from None
        self._known_chat(bot, chat_id)
        if kind == "chat_member":
            user_id = scope.get("user_id")
            if not isinstance(user_id, int) or user_id not in self._users:
                raise _bad("user not found")
            return f"chat_member:{chat_id}:{user_id}"
        return f"{kind}:{chat_id}"

    def _language(self, p: _Params) -> str:
        language = p.get_str("language_code") or ""
        if not _LANGUAGE.match(language):
            raise _bad("invalid language code specified")
        return language

    def _m_setMyCommands(self, bot: SandboxBot, p: _Params) -> object:
        commands = p.get_json("commands", "bot commands")
        if not isinstance(commands, list):
            raise _bad("can't parse bot commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands specified")
        checked: list[Json] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse bot commands JSON object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not _COMMAND.match(name.lstrip("/")):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad("command description must be non-empty")
            checked.append({"command": name.lstrip("/"), "description": description})
        key = (self._scope_key(bot, p), self._language(p))
        if checked:
            bot.commands[key] = checked
        else:
            bot.commands.pop(key, None)
        return True

    def _m_getMyCommands(self, bot: SandboxBot, p: _Params) -> object:
        key = (self._scope_key(bot, p), self._language(p))
        return bot.commands.get(key, [])

    def _m_deleteMyCommands(self, bot: SandboxBot, p: _Params) -> object:
        key = (self._scope_key(bot, p), self._language(p))
        bot.commands.pop(key, None)
        return True

    def _m_setChatMenuButton(self, bot: SandboxBot, p: _Params) -> object:
        chat_id = p.chat_id() if p.has("chat_id") else None
        if chat_id is not None:
            self._known_chat(bot, chat_id)
        button = p.get_json("menu_button", "menu button")
        if button is None:
            button = {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise _bad("can't parse menu button JSON object")
        if button["type"] == "web_app":
            web_app = button.get("web_app")
            if not button.get("text") or not isinstance(web_app, dict):
                raise _bad("can't parse menu button JSON object")
            if not str(web_app.get("url", "")).lower().startswith("https://"):
                raise _bad("BUTTON_URL_INVALID")
        if button["type"] == "default":
            bot.menu_buttons.pop(chat_id, None)
        else:
            bot.menu_buttons[chat_id] = button
        return True

    def _m_getChatMenuButton(self, bot: SandboxBot, p: _Params) -> object:
        chat_id = p.chat_id() if p.has("chat_id") else None
        if chat_id is not None:
            self._known_chat(bot, chat_id)
        return self.menu_button(chat_id, token=bot.token)

    def _m_getChat(self, bot: SandboxBot, p: _Params) -> object:
        chat = self._known_chat(bot, p.chat_id())
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _m_getChatMember(self, bot: SandboxBot, p: _Params) -> object:
        chat_id = p.chat_id()
        self._known_chat(bot, chat_id)
        user_id = p.get_int("user_id")
        if user_id == bot.id:
            return {"status": "member", "user": bot.user_json}
        user = self._users.get(user_id or 0)
        if user is None:
            raise _bad("user not found")
        if chat_id > 0:
            if chat_id != user_id:
                raise _bad("user not found")
            return {"status": "member", "user": user.to_json()}
        member = user.id in self._groups[chat_id].members
        if not member:
            return {"status": "left", "user": user.to_json()}
        return {"status": "member", "user": user.to_json()}

    def _m_getFile(self, bot: SandboxBot, p: _Params) -> object:
        file_id = p.get_str("file_id")
        stored = self._files.get(file_id or "")
        if stored is None:
            raise _bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    def _bot_text(self, bot: SandboxBot, p: _Params, name: str, limit: int) -> object:
        value = p.get_str(name) or ""
        if len(value) > limit:
            raise _bad(f"{name.replace('_', ' ')} is too long")
        language = self._language(p)
        if value:
            bot.texts[(name, language)] = value
        else:
            bot.texts.pop((name, language), None)
        return True

    def _m_setMyName(self, bot: SandboxBot, p: _Params) -> object:
        return self._bot_text(bot, p, "name", 64)

    def _m_getMyName(self, bot: SandboxBot, p: _Params) -> object:
        lang = self._language(p)
        return {"name": bot.texts.get(("name", lang), bot.first_name)}

    def _m_setMyDescription(self, bot: SandboxBot, p: _Params) -> object:
        return self._bot_text(bot, p, "description", 512)

    def _m_getMyDescription(self, bot: SandboxBot, p: _Params) -> object:
        lang = self._language(p)
        return {"description": bot.texts.get(("description", lang), "")}

    def _m_setMyShortDescription(self, bot: SandboxBot, p: _Params) -> object:
        return self._bot_text(bot, p, "short_description", 120)

    def _m_getMyShortDescription(self, bot: SandboxBot, p: _Params) -> object:
        lang = self._language(p)
        return {"short_description": bot.texts.get(("short_description", lang), "")}


def _inline(message: SentMessage) -> Json | None:
    markup = message.reply_markup
    return markup if markup is not None and "inline_keyboard" in markup else None


def _check_inline_keyboard(rows: object) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    if sum(len(row) for row in rows) > 100:
        raise _bad("reply markup is too long")
    for row in rows:
        for button in row:
            if not isinstance(button, dict):
                raise _bad(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            text = button.get("text")
            if not isinstance(text, str) or not text.strip():
                raise _bad("can't parse inline keyboard button: Text must be non-empty")
            actions = [a for a in _INLINE_ACTIONS if button.get(a) not in (None, "", False)]
            if not actions:
                raise _bad(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and data != "":
                if not isinstance(data, str):
                    raise _bad(
                        "can't parse inline keyboard button: "
                        'Field "callback_data" must be of type String'
                    )
                if len(data.encode("utf-8")) > _CALLBACK_DATA_LIMIT:
                    raise _bad("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url not in (None, "") and (not isinstance(url, str) or not _BUTTON_URL.match(url)):
                raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _check_reply_keyboard(markup: Json) -> None:
    rows = markup["keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad('field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays')
    if sum(len(row) for row in rows) > 300:
        raise _bad("reply markup is too long")
    for row in rows:
        for button in row:
            text = button if isinstance(button, str) else None
            if isinstance(button, dict):
                text = button.get("text")
            if not isinstance(text, str) or not text.strip():
                raise _bad("can't parse keyboard button: Text must be non-empty")
    placeholder = markup.get("input_field_placeholder")
    if placeholder is not None and (not isinstance(placeholder, str) or len(placeholder) > 64):
        raise _bad("input field placeholder is too long")


_METHODS: dict[str, tuple[str, Callable[[SandboxBotAPI, SandboxBot, _Params], object]]] = {
    name[3:].lower(): (name[3:], fn)
    for name, fn in vars(SandboxBotAPI).items()
    if name.startswith("_m_")
}
#: lower-case method name -> canonical Bot API spelling
_CANONICAL: dict[str, str] = {key: value[0] for key, value in _METHODS.items()}
