"""Helpers of the delivery engine's end-to-end tests (and of bench/delivery.py).

Recipients are made in bulk (one unit of work for hundreds of members, each a sandbox user
who started the bot), deliveries of a test-only kind are queued directly in the outbox, and
the sandbox's record answers "who got what, how many times, how fast".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from bot.db import Database
from bot.delivery.outbox import enqueue
from bot.delivery.registry import DeliveryRegistry, Planned, RenderContext, Rendered
from bot.models import Delivery
from bot.sandbox.server import SandboxBotAPI
from tests.factories import make_cohort, make_members

# A kind no feature uses, so the tests never collide with a real renderer.
TEST_KIND = "test_notice"


@dataclass(frozen=True)
class Recipient:
    member_id: int
    chat_id: int


async def render_test_notice(context: RenderContext) -> Rendered:
    """Short, in the member's language, with the delivery's number for the record."""
    number = context.delivery.payload.get("n", context.delivery.id)
    return Rendered(
        text=context.t("Bonjour {name} ! Message n° {n}.", name=context.member.first_name, n=number)
    )


def install_test_kind(registry: DeliveryRegistry) -> None:
    if TEST_KIND not in registry.renderers:
        registry.add_renderer(TEST_KIND, render_test_notice)


async def seed_recipients(
    db: Database, sandbox: SandboxBotAPI, count: int, *, language: str = "fr"
) -> list[Recipient]:
    """`count` onboarded members of one new cohort, each reachable in the sandbox."""
    now = datetime.now(UTC)
    async with db.unit_of_work() as tx:
        cohort = await make_cohort(tx, "Diffusion", language=language)
        members = await make_members(
            tx,
            cohort,
            count,
            name="Membre{index}",
            language=language,
            consent_at=now,
            onboarded_at=now,
        )
        for member in members:
            assert member.telegram_user_id is not None
            sandbox.add_user(member.telegram_user_id, member.first_name, language_code=language)
            sandbox.mark_started(member.telegram_user_id)
        recipients = [Recipient(m.id, m.chat_id or 0) for m in members]
    return recipients


async def queue_test_notices(
    db: Database,
    recipients: Sequence[Recipient],
    due_at: datetime,
    *,
    key: str = "e2e:1",
    urgent: bool = True,
) -> int:
    """One delivery per recipient; urgent by default so quiet hours never get in the way."""
    async with db.unit_of_work() as session:
        return await enqueue(
            session,
            [
                Planned(
                    member_id=r.member_id,
                    kind=TEST_KIND,
                    dedup_key=key,
                    due_at=due_at,
                    payload={"n": index},
                    urgent=urgent,
                )
                for index, r in enumerate(recipients)
            ],
        )


async def outbox_counts(db: Database) -> Counter[str]:
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        return Counter({row[0]: row[1] for row in rows})


@dataclass
class Delivered:
    """What the sandbox recorded for a set of recipients."""

    per_chat: dict[int, int]
    send_times: list[float]  # time.monotonic() of each message, in order

    @property
    def missing(self) -> list[int]:
        return [chat for chat, n in self.per_chat.items() if n == 0]

    @property
    def duplicated(self) -> list[int]:
        return [chat for chat, n in self.per_chat.items() if n > 1]

    @property
    def rate(self) -> float:
        """Messages per second from the first to the last one."""
        if len(self.send_times) < 2:
            return 0.0
        return (len(self.send_times) - 1) / (self.send_times[-1] - self.send_times[0])

    def max_in_window(self, seconds: float = 1.0) -> int:
        times = self.send_times
        best, start = 0, 0
        for end, moment in enumerate(times):
            while times[start] <= moment - seconds:
                start += 1
            best = max(best, end - start + 1)
        return best


def delivered(sandbox: SandboxBotAPI, recipients: Sequence[Recipient]) -> Delivered:
    chats = {r.chat_id for r in recipients}
    counts = Counter(m.chat_id for m in sandbox.all_sent() if m.chat_id in chats)
    times = sorted(m.sent_at for m in sandbox.all_sent() if m.chat_id in chats)
    return Delivered({chat: counts.get(chat, 0) for chat in chats}, times)


def as_dict(report: Any) -> dict[str, Any]:
    return dict(report.as_dict()) if hasattr(report, "as_dict") else dict(vars(report))
