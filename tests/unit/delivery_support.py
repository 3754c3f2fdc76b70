"""Stand-ins for the delivery engine's unit tests: a scripted bot, members, a runtime.

`FakeBot` answers like telegram.Bot's send methods, records what was sent, and raises the
errors a test scripts for a chat (or for the next calls), so the dispatcher's outcome rules
are tested without HTTP. The sandbox-backed tests are in tests/e2e/test_delivery*.py.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.limits import Limits
from bot.delivery.outbox import enqueue
from bot.delivery.registry import DeliveryRegistry, Planned, RenderContext, Rendered, Skip
from bot.i18n import I18n
from bot.models import Member
from bot.runtime import Runtime
from tests.factories import content_library, make_cohort, make_members

# Fast limits: hardly anything waits in unit tests unless a test asks for it. A chat still
# gets one message at a time, as with Telegram's limits (a second one waits 50 ms).
FAST = Limits(per_second=10_000, chat_interval=0.05, outage_pause=0.0, outage_pause_max=0.0)
# One send at a time (0.1 s apart, no catching up): the answer to one send is known before
# the next leaves, as when a 429 comes back.
ONE_BY_ONE = Limits(per_second=10, burst_tolerance=0.0, chat_interval=0.0)


@dataclass
class SentRecord:
    chat_id: int
    text: str
    method: str
    options: dict[str, Any]
    at: float


@dataclass
class _Message:
    message_id: int


@dataclass
class FakeBot:
    """What the dispatcher needs of telegram.Bot, with scripted failures."""

    username: str = "relais_test_bot"
    sent: list[SentRecord] = field(default_factory=list)
    # Raised once per call, in order, whatever the chat.
    next_errors: deque[BaseException] = field(default_factory=deque)
    # Raised for every send to the chat.
    chat_errors: dict[int, BaseException] = field(default_factory=dict)
    clock: Callable[[], float] = field(default=lambda: 0.0)
    _message_ids: dict[int, itertools.count[int]] = field(
        default_factory=lambda: defaultdict(lambda: itertools.count(1))
    )

    async def _send(self, method: str, chat_id: int, text: str, options: dict[str, Any]) -> Any:
        if self.next_errors:
            raise self.next_errors.popleft()
        if chat_id in self.chat_errors:
            raise self.chat_errors[chat_id]
        self.sent.append(SentRecord(chat_id, text, method, options, self.clock()))
        return _Message(next(self._message_ids[chat_id]))

    async def send_message(self, chat_id: int, text: str, **options: Any) -> Any:
        return await self._send("sendMessage", chat_id, text, options)

    async def send_photo(
        self, chat_id: int, photo: Any, caption: str | None = None, **o: Any
    ) -> Any:
        return await self._send("sendPhoto", chat_id, caption or "", {"photo": photo, **o})

    async def send_document(
        self, chat_id: int, document: Any, caption: str | None = None, **o: Any
    ) -> Any:
        return await self._send("sendDocument", chat_id, caption or "", {"document": document, **o})

    def chats(self) -> list[int]:
        return [record.chat_id for record in self.sent]


async def render_notice(context: RenderContext) -> Rendered | Skip:
    """A test renderer: the payload's text, translated, or Skip when the payload says so."""
    payload = context.delivery.payload
    if payload.get("skip"):
        return Skip(str(payload["skip"]))
    if payload.get("boom"):
        raise RuntimeError("renderer bug")
    return Rendered(text=context.t("Bonjour {name}", name=context.member.first_name))


def notice_registry() -> DeliveryRegistry:
    registry = DeliveryRegistry()
    registry.add_renderer("notice", render_notice)
    return registry


def make_runtime(
    settings: Settings, db: Database, clock: ManualClock, i18n: I18n, instance: str = "test:1"
) -> Runtime:
    return Runtime(
        settings=settings,
        db=db,
        clock=clock,
        i18n=i18n,
        content=content_library(),
        instance=instance,
    )


def make_dispatcher(
    runtime: Runtime,
    bot: FakeBot,
    registry: DeliveryRegistry | None = None,
    limits: Limits = FAST,
) -> Dispatcher:
    return Dispatcher(runtime, bot, registry or notice_registry(), limits)  # type: ignore[arg-type]


async def add_members(db: Database, count: int, **fields: Any) -> list[Member]:
    """`count` members of one cohort in Brussels, each with a private chat (not enrolled: the
    real planners leave them alone, only the notices queued by the tests reach them)."""
    async with db.unit_of_work() as tx:
        cohort = await make_cohort(tx, timezone=fields.pop("timezone", "Europe/Brussels"))
        return await make_members(tx, cohort, count, role=None, **fields)


async def queue_notices(
    db: Database,
    members: list[Member],
    due_at: datetime,
    *,
    key: str = "notice:1",
    urgent: bool = False,
    payload: dict[str, Any] | None = None,
    kind: str = "notice",
) -> int:
    async with db.unit_of_work() as session:
        return await enqueue(
            session,
            [
                Planned(
                    member_id=member.id,
                    kind=kind,
                    dedup_key=key,
                    due_at=due_at,
                    payload=dict(payload or {}),
                    urgent=urgent,
                )
                for member in members
            ],
        )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
