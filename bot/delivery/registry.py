"""The contract between features and the outbox.

A feature contributes **planners** (turn domain state into `Planned` deliveries, idempotent
thanks to `dedup_key`) and **renderers** (turn one due delivery into what to send, in the
member's language, at send time — or `Skip` it when its reason disappeared). Neither
imports telegram: a renderer returns plain data that the dispatcher turns into a message.

Planners run every tick, so they must cost what is *due*, not what exists: select with a
time window on indexed columns (`PlanWindow.now` .. `PlanWindow.horizon`), never the whole
population. A contact that follows each person's own rhythm (tips, check-ins) stores its
next due time on the row and plans through bot/delivery/due.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content import ContentLibrary
from bot.i18n import Translator
from bot.models import Delivery, Member


@dataclass(frozen=True)
class Planned:
    """A delivery to insert; inserting an existing (member_id, dedup_key) does nothing."""

    member_id: int
    kind: str
    dedup_key: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    # Not held by quiet hours (e.g. the reminder two hours before a session).
    urgent: bool = False
    broadcast_id: int | None = None


@dataclass(frozen=True)
class Button:
    label: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Rendered:
    """What to send. Text is Telegram HTML (≤ 4096 characters, ≤ 1024 with a photo)."""

    text: str
    buttons: Sequence[Sequence[Button]] = ()
    # A Telegram file_id or raw bytes; the text becomes the caption.
    photo: str | bytes | None = None
    # (filename, bytes) of a document; the text becomes the caption.
    document: tuple[str, bytes] | None = None
    # Telegram file_ids of photos sent as one album (sendMediaGroup, 2-10; one is a photo);
    # the text becomes the first photo's caption (≤ 1024). A photo Telegram no longer has is
    # left out and the rest sent (bot/delivery/dispatcher.py).
    album: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skip:
    """The reason for the delivery disappeared (session cancelled, objective closed...)."""

    reason: str


@dataclass(frozen=True)
class PlanWindow:
    now: datetime
    # Planners create what falls due up to here (a little ahead of `now`, so that a
    # delivery is in the table before its time and the dispatcher is never late).
    horizon: datetime
    settings: Settings


@dataclass(frozen=True)
class RenderContext:
    session: AsyncSession
    delivery: Delivery
    member: Member
    t: Translator
    now: datetime
    settings: Settings
    bot_username: str
    # The Runtime's content library (curriculum titles, tips); None in tests that need none.
    content: ContentLibrary | None = None


Planner = Callable[[AsyncSession, PlanWindow], Awaitable[Sequence[Planned]]]
Renderer = Callable[[RenderContext], Awaitable[Rendered | Skip]]
# Called after a delivery reached its recipient (e.g. a tip counts as seen, a check-in as asked).
AfterSend = Callable[[AsyncSession, Delivery, datetime], Awaitable[None]]


class DeliveryRegistry:
    """Planners and renderers of one Application (built in bot/delivery/features.py)."""

    def __init__(self) -> None:
        self.planners: dict[str, Planner] = {}
        self.renderers: dict[str, Renderer] = {}
        self.after_send: dict[str, AfterSend] = {}
        # Kinds still sent to a member who paused the bot (by default a pause skips them).
        self.when_paused: set[str] = set()

    def add_planner(self, name: str, planner: Planner) -> None:
        if name in self.planners:
            raise ValueError(f"planner {name!r} registered twice")
        self.planners[name] = planner

    def add_renderer(
        self,
        kind: str,
        renderer: Renderer,
        after_send: AfterSend | None = None,
        *,
        when_paused: bool = False,
    ) -> None:
        """`when_paused=True`: send this kind even to a member who paused the bot."""
        if kind in self.renderers:
            raise ValueError(f"renderer for {kind!r} registered twice")
        self.renderers[kind] = renderer
        if after_send is not None:
            self.after_send[kind] = after_send
        if when_paused:
            self.when_paused.add(kind)
