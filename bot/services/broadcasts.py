"""Trainer broadcasts: a draft, its audience and exact count, sending now or later, the report.

The life of a broadcast (`Broadcast.status`)::

    draft ──▶ scheduled ──▶ sending ──▶ done
      │           │            │
      └───────────┴────────────┴──▶ cancelled   (until its first message has left)

- **Draft**: the trainer's text (Telegram HTML made from their message's entities, so always
  valid) or a photo (`photo_file_id`) with a caption; the audience; `recipients_count` gives
  the exact number the preview shows. One draft per author and cohort: a new one replaces it.
- **Audience** (`Broadcast.audience`): `all` (the cohort's merchants), `sector:<code>`,
  `attended` (present at the cohort's last session), `missed` (enrolled by then but not
  present). Recipients are the enrolled merchants in it whom the bot can reach: not paused,
  not blocked, with a chat. The audience is resolved when sending starts.
- **Sending** goes through the outbox: one `broadcast` delivery per recipient, key
  `broadcast:<id>`, `Delivery.broadcast_id` set; now (`start`) or, for a scheduled one, by the
  planner `plan_scheduled` when its time comes into the window. Quiet hours apply (the
  dispatcher holds what is due in them), which is why no schedule may fall inside them.
- **Report**: when every delivery of a sending broadcast is final, `plan_reports` marks it
  done and queues a `broadcast_report` delivery to its author (key `broadcast-report:<id>`),
  rendered at send time from the deliveries: received, not delivered because the person
  blocked the bot, not sent (paused since), failed. `progress` gives the same counts while
  it runs.
- **A library tip pushed to the cohort** is a broadcast with `tip_id`: each recipient gets the
  tip in their own language with the 👍 / 👎 buttons; those who already have it are left out,
  and it counts as seen (`TipReceipt.via = "broadcast"`).

Staff actions (send, schedule, cancel, push) are written to the audit log.

Longer than our ~600 lines on purpose: drafting, audiences, scheduling, the outbox plan and
the progress figures are one life cycle of one row; the pieces only make sense together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot import buttons
from bot.content import ContentLibrary, Tip
from bot.delivery.outbox import enqueue
from bot.delivery.quiet import QuietWindow, in_window
from bot.delivery.registry import (
    DeliveryRegistry,
    Planned,
    PlanWindow,
    RenderContext,
    Rendered,
    Skip,
)
from bot.i18n import Translator, escape
from bot.models import (
    Attendance,
    Broadcast,
    BroadcastStatus,
    Cohort,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrolment,
    Member,
    Sector,
    TipReceipt,
    TrainingSession,
)
from bot.services import sessions as sessions_service
from bot.services import tips
from bot.services.audit import audit
from bot.services.members import parse_sector
from bot.telegram_html import telegram_length, validate_html, visible_text

BROADCAST_KIND = DeliveryKind.BROADCAST.value
REPORT_KIND = "broadcast_report"  # fits Delivery.kind (16 characters)
KEY_PREFIX = "broadcast:"
REPORT_PREFIX = "broadcast-report:"

# Telegram's limits, counted on the text the reader sees.
MAX_TEXT = 4096
MAX_CAPTION = 1024
# A schedule lies at least this far ahead (time to change one's mind), at most this far.
SCHEDULE_MIN_AHEAD = timedelta(minutes=10)
SCHEDULE_MAX_AHEAD = timedelta(days=60)
# Local times offered as buttons when scheduling.
SUGGESTED_TIMES = (time(9, 30), time(12, 0), time(18, 0))
SUGGESTIONS = 4

ALL, ATTENDED, MISSED = "all", "attended", "missed"
SECTOR_PREFIX = "sector:"

DRAFT = BroadcastStatus.DRAFT.value
SCHEDULED = BroadcastStatus.SCHEDULED.value
SENDING = BroadcastStatus.SENDING.value
DONE = BroadcastStatus.DONE.value
CANCELLED = BroadcastStatus.CANCELLED.value

_FINAL = (
    DeliveryStatus.SENT.value,
    DeliveryStatus.FAILED.value,
    DeliveryStatus.SKIPPED.value,
)
_IN_FLIGHT = (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)


# -- audiences ------------------------------------------------------------------------------


def parse_audience(code: str) -> str | None:
    """A valid audience code, or None (codes come from callback data: untrusted)."""
    if code in (ALL, ATTENDED, MISSED):
        return code
    if code.startswith(SECTOR_PREFIX) and parse_sector(code[len(SECTOR_PREFIX) :]) is not None:
        return code
    return None


def _reachable() -> list[ColumnElement[bool]]:
    return [
        Member.chat_id.is_not(None),
        Member.reachable.is_(True),
        Member.paused.is_(False),
    ]


def _audience_members(
    cohort_id: int, audience: str, last_session: TrainingSession | None
) -> Select[int] | None:
    """Enrolled merchants of the cohort in the audience (reachable or not); None if the
    audience is empty by definition (no session yet for attended / missed)."""
    statement = (
        select(Member.id)
        .join(Enrolment, Enrolment.member_id == Member.id)
        .where(Enrolment.cohort_id == cohort_id, Enrolment.left_at.is_(None))
    )
    if audience == ALL:
        return statement
    if audience.startswith(SECTOR_PREFIX):
        return statement.where(Member.sector == audience[len(SECTOR_PREFIX) :])
    if last_session is None:
        return None
    present = select(Attendance.member_id).where(
        Attendance.session_id == last_session.id, Attendance.member_id.is_not(None)
    )
    if audience == ATTENDED:
        return statement.where(Member.id.in_(present))
    if audience == MISSED:
        # Those who joined after that session did not miss it.
        return statement.where(
            Member.id.not_in(present), Enrolment.joined_at <= last_session.starts_at
        )
    return None


def _without_tip(statement: Select[int], tip_id: str | None) -> Select[int]:
    if tip_id is None:
        return statement
    return statement.where(
        ~exists().where(TipReceipt.member_id == Member.id, TipReceipt.tip_id == tip_id)
    )


@dataclass(frozen=True)
class AudienceCount:
    audience: str
    # Who will receive it.
    recipients: int
    # In the audience but out of reach: paused, blocked the bot, or never opened the chat.
    unreachable: int


async def _count(session: AsyncSession, statement: Select[int]) -> int:
    total = await session.scalar(select(func.count()).select_from(statement.subquery()))
    return int(total or 0)


async def count_audience(
    session: AsyncSession,
    cohort_id: int,
    audience: str,
    now: datetime,
    *,
    tip_id: str | None = None,
) -> AudienceCount:
    """The exact number of recipients if sending started now (what the preview shows)."""
    last = await sessions_service.latest_started(session, cohort_id, now)
    statement = _audience_members(cohort_id, audience, last)
    if statement is None:
        return AudienceCount(audience, 0, 0)
    statement = _without_tip(statement, tip_id)
    everyone = await _count(session, statement)
    recipients = await _count(session, statement.where(*_reachable()))
    return AudienceCount(audience, recipients, everyone - recipients)


async def recipient_ids(
    session: AsyncSession,
    cohort_id: int,
    audience: str,
    now: datetime,
    *,
    tip_id: str | None = None,
) -> list[int]:
    last = await sessions_service.latest_started(session, cohort_id, now)
    statement = _audience_members(cohort_id, audience, last)
    if statement is None:
        return []
    statement = _without_tip(statement, tip_id).where(*_reachable()).order_by(Member.id)
    return list((await session.scalars(statement)).all())


async def audience_choices(
    session: AsyncSession, cohort_id: int, now: datetime
) -> list[AudienceCount]:
    """The audiences to offer, with their counts: everyone, the last session's present and
    absent (once a session took place), and each sector that has merchants in the cohort."""
    choices = [await count_audience(session, cohort_id, ALL, now)]
    if await sessions_service.latest_started(session, cohort_id, now) is not None:
        choices.append(await count_audience(session, cohort_id, ATTENDED, now))
        choices.append(await count_audience(session, cohort_id, MISSED, now))
    sectors = set(
        (
            await session.scalars(
                select(Member.sector)
                .join(Enrolment, Enrolment.member_id == Member.id)
                .where(
                    Enrolment.cohort_id == cohort_id,
                    Enrolment.left_at.is_(None),
                    Member.sector.is_not(None),
                )
                .distinct()
            )
        ).all()
    )
    for sector in Sector:
        if sector.value in sectors:
            choices.append(
                await count_audience(session, cohort_id, SECTOR_PREFIX + sector.value, now)
            )
    return choices


# -- the draft ------------------------------------------------------------------------------


class TextProblem(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    INVALID = "invalid"


def check_text(text: str | None, *, photo: bool) -> tuple[TextProblem, int] | None:
    """Whether Telegram will take this text (or caption); (problem, the limit) if not."""
    limit = MAX_CAPTION if photo else MAX_TEXT
    if not text or not text.strip():
        return None if photo else (TextProblem.EMPTY, limit)
    if validate_html(text) is not None:
        return TextProblem.INVALID, limit
    if telegram_length(visible_text(text)) > limit:
        return TextProblem.TOO_LONG, limit
    return None


async def create_draft(
    session: AsyncSession,
    *,
    cohort_id: int,
    author_id: int,
    text: str | None,
    photo_file_id: str | None,
    now: datetime,
) -> Broadcast:
    """A new draft for the whole cohort; the author's previous draft there is dropped."""
    await session.execute(
        delete(Broadcast).where(
            Broadcast.cohort_id == cohort_id,
            Broadcast.author_id == author_id,
            Broadcast.status == DRAFT,
        )
    )
    draft = Broadcast(
        cohort_id=cohort_id,
        author_id=author_id,
        text=text or None,
        photo_file_id=photo_file_id,
        audience=ALL,
        status=DRAFT,
        created_at=now,
    )
    session.add(draft)
    await session.flush()
    return draft


async def get_in_cohort(
    session: AsyncSession, broadcast_id: int, cohort_id: int | None
) -> Broadcast | None:
    """The broadcast if it belongs to `cohort_id` (ids from callback data are untrusted)."""
    if cohort_id is None:
        return None
    return await session.scalar(
        select(Broadcast).where(Broadcast.id == broadcast_id, Broadcast.cohort_id == cohort_id)
    )


async def get_draft(
    session: AsyncSession, broadcast_id: int, cohort_id: int | None, author_id: int | None
) -> Broadcast | None:
    """The author's own draft in their active cohort, or None."""
    found = await get_in_cohort(session, broadcast_id, cohort_id)
    if found is None or found.status != DRAFT or found.author_id != author_id:
        return None
    return found


async def discard_draft(session: AsyncSession, draft: Broadcast) -> None:
    await session.delete(draft)
    await session.flush()


def broadcast_message(broadcast: Broadcast) -> Rendered:
    """Exactly what a recipient of a written broadcast gets (the preview shows this too)."""
    return Rendered(text=broadcast.text or "", photo=broadcast.photo_file_id)


# -- sending --------------------------------------------------------------------------------


def broadcast_key(broadcast_id: int) -> str:
    return f"{KEY_PREFIX}{broadcast_id}"


def _planned(broadcast: Broadcast, member_ids: Sequence[int], due_at: datetime) -> list[Planned]:
    return [
        Planned(
            member_id=member_id,
            kind=BROADCAST_KIND,
            dedup_key=broadcast_key(broadcast.id),
            due_at=due_at,
            payload={"broadcast_id": broadcast.id},
            broadcast_id=broadcast.id,
        )
        for member_id in member_ids
    ]


async def _begin(
    session: AsyncSession, broadcast: Broadcast, member_ids: Sequence[int], now: datetime
) -> int:
    """Queue one delivery per recipient (due at the scheduled time, else now); mark it sending."""
    due_at = broadcast.scheduled_at or now
    await enqueue(session, _planned(broadcast, member_ids, due_at))
    broadcast.status = SENDING
    broadcast.started_at = due_at
    broadcast.recipients = len(member_ids)
    await session.flush()
    return len(member_ids)


async def _recipients_of(session: AsyncSession, broadcast: Broadcast, now: datetime) -> list[int]:
    return await recipient_ids(
        session, broadcast.cohort_id, broadcast.audience, now, tip_id=broadcast.tip_id
    )


async def start(
    session: AsyncSession, draft: Broadcast, *, actor_id: int | None, now: datetime
) -> int:
    """Send a draft now: returns the number of recipients (0: nothing sent, still a draft)."""
    member_ids = await _recipients_of(session, draft, now)
    if not member_ids:
        return 0
    count = await _begin(session, draft, member_ids, now)
    await audit(
        session,
        actor_id,
        draft.cohort_id,
        "broadcast.tip" if draft.tip_id else "broadcast.send",
        {"broadcast_id": draft.id, "audience": draft.audience, "recipients": count}
        | ({"tip_id": draft.tip_id} if draft.tip_id else {}),
        at=now,
    )
    return count


async def push_tip(
    session: AsyncSession,
    *,
    cohort_id: int,
    author_id: int,
    tip_id: str,
    now: datetime,
) -> tuple[Broadcast | None, int]:
    """Send one library tip to every merchant of the cohort who does not have it yet."""
    if not await recipient_ids(session, cohort_id, ALL, now, tip_id=tip_id):
        return None, 0
    broadcast = Broadcast(
        cohort_id=cohort_id,
        author_id=author_id,
        tip_id=tip_id,
        audience=ALL,
        status=DRAFT,
        created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    count = await start(session, broadcast, actor_id=author_id, now=now)
    return broadcast, count


class ScheduleProblem(StrEnum):
    TOO_SOON = "too_soon"
    TOO_FAR = "too_far"
    QUIET = "quiet"


def schedule_problem(
    at: datetime, now: datetime, zone: tzinfo, quiet: QuietWindow | None
) -> ScheduleProblem | None:
    if at < now + SCHEDULE_MIN_AHEAD:
        return ScheduleProblem.TOO_SOON
    if at > now + SCHEDULE_MAX_AHEAD:
        return ScheduleProblem.TOO_FAR
    if quiet is not None and in_window(at.astimezone(zone).time(), quiet):
        return ScheduleProblem.QUIET
    return None


async def schedule(
    session: AsyncSession,
    draft: Broadcast,
    at: datetime,
    *,
    actor_id: int | None,
    now: datetime,
    zone: tzinfo,
    quiet: QuietWindow | None,
) -> ScheduleProblem | int:
    """Schedule a draft; returns a problem, or the number of recipients expected today."""
    problem = schedule_problem(at, now, zone, quiet)
    if problem is not None:
        return problem
    count = await count_audience(session, draft.cohort_id, draft.audience, now)
    draft.status = SCHEDULED
    draft.scheduled_at = at
    draft.recipients = count.recipients
    await session.flush()
    await audit(
        session,
        actor_id,
        draft.cohort_id,
        "broadcast.schedule",
        {"broadcast_id": draft.id, "audience": draft.audience, "at": at.isoformat()},
        at=now,
    )
    return count.recipients


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"
    STARTED = "started"  # its first message has left: too late
    OVER = "over"  # done or cancelled already


async def cancel(
    session: AsyncSession, broadcast: Broadcast, *, actor_id: int | None, now: datetime
) -> CancelOutcome:
    """Cancel a scheduled broadcast, or one whose messages are all still waiting."""
    if broadcast.status in (DONE, CANCELLED, DRAFT):
        return CancelOutcome.OVER
    if broadcast.status == SENDING:
        left = await session.scalar(
            select(Delivery.id)
            .where(
                Delivery.broadcast_id == broadcast.id,
                Delivery.status != DeliveryStatus.PENDING.value,
            )
            .limit(1)
        )
        if left is not None:
            return CancelOutcome.STARTED
        await session.execute(
            update(Delivery)
            .where(
                Delivery.broadcast_id == broadcast.id,
                Delivery.status == DeliveryStatus.PENDING.value,
            )
            .values(status=DeliveryStatus.SKIPPED.value, last_error="broadcast cancelled")
        )
    broadcast.status = CANCELLED
    broadcast.cancelled_at = now
    await session.flush()
    await audit(
        session,
        actor_id,
        broadcast.cohort_id,
        "broadcast.cancel",
        {"broadcast_id": broadcast.id},
        at=now,
    )
    return CancelOutcome.CANCELLED


def suggested_times(
    now: datetime, zone: tzinfo, quiet: QuietWindow | None, count: int = SUGGESTIONS
) -> list[datetime]:
    """The next few SUGGESTED_TIMES in the cohort's zone that may be chosen."""
    found: list[datetime] = []
    today = now.astimezone(zone).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        for at in SUGGESTED_TIMES:
            moment = tips.local_moment(day, at, zone)
            if schedule_problem(moment, now, zone, quiet) is None:
                found.append(moment)
                if len(found) == count:
                    return found
    return found


_WHEN = re.compile(
    r"^\s*(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})(?:[/.-](?P<y>\d{2}|\d{4}))?\s+(?P<t>.+?)\s*$"
)


class WhenProblem(StrEnum):
    FORMAT = "format"
    IMPOSSIBLE = "impossible"  # 31/02
    NONEXISTENT = "nonexistent"  # skipped by the change to summer time


def parse_when(text: str, zone: str, now: datetime) -> datetime | WhenProblem:
    """`JJ/MM HH:MM` (also `JJ/MM/AAAA 19h30`) in the cohort's zone, as a UTC instant.

    Without a year, the next such date: today or later this year, else next year.
    """
    match = _WHEN.match(text)
    if match is None:
        return WhenProblem.FORMAT
    at = sessions_service.parse_time(match["t"])
    if not isinstance(at, time):
        return WhenProblem.FORMAT
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    year_text = match["y"]
    year = int(year_text) if year_text else today.year
    if year < 100:
        year += 2000
    try:
        day = date(year, int(match["m"]), int(match["d"]))
        if not year_text and day < today:
            day = date(year + 1, day.month, day.day)
    except ValueError:
        return WhenProblem.IMPOSSIBLE
    instant = sessions_service.local_start(day, at, zone)
    if not isinstance(instant, datetime):
        return WhenProblem.NONEXISTENT
    return instant


# -- progress and the report ----------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    status: str
    recipients: int
    sent: int = 0
    pending: int = 0
    blocked: int = 0  # not delivered: the person blocked the bot
    skipped: int = 0  # not sent: paused, left the cohort, cancelled...
    failed: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.pending + self.blocked + self.skipped + self.failed


def _blocked() -> ColumnElement[bool]:
    # What the dispatcher writes for a 403, and for the rows it skips after one.
    return or_(
        Delivery.last_error.startswith("forbidden"),
        Delivery.last_error.startswith("member unreachable"),
    )


async def progress(session: AsyncSession, broadcast: Broadcast) -> Progress:
    """Counts of the broadcast's deliveries by outcome."""
    blocked = case((_blocked(), 1), else_=0)
    rows = (
        await session.execute(
            select(Delivery.status, blocked, func.count())
            .where(Delivery.broadcast_id == broadcast.id)
            .group_by(Delivery.status, blocked)
        )
    ).all()
    counts = {"sent": 0, "pending": 0, "blocked": 0, "skipped": 0, "failed": 0}
    for status, is_blocked, number in rows:
        if status == DeliveryStatus.SENT.value:
            counts["sent"] += number
        elif status in _IN_FLIGHT:
            counts["pending"] += number
        elif is_blocked:
            counts["blocked"] += number
        elif status == DeliveryStatus.SKIPPED.value:
            counts["skipped"] += number
        else:
            counts["failed"] += number
    return Progress(status=broadcast.status, recipients=broadcast.recipients, **counts)


def excerpt(t: Translator, broadcast: Broadcast, library: ContentLibrary | None) -> str:
    """A few words that name the broadcast for its author (plain text, to be escaped)."""
    if broadcast.tip_id:
        tip = library.tip(broadcast.tip_id) if library is not None else None
        title = tips.tip_title(library, tip, t.lang) if library and tip else broadcast.tip_id
        return "💡 " + title
    words = visible_text(broadcast.text or "").strip().replace("\n", " ")
    if not words:
        return t("📷 une photo")
    return "« " + (words if len(words) <= 60 else words[:59].rstrip() + "…") + " »"


def report_text(
    t: Translator, broadcast: Broadcast, counts: Progress, library: ContentLibrary | None
) -> str:
    """The author's delivery report (also shown as the progress of a finished broadcast)."""
    lines = [
        t("📣 <b>Bilan de votre envoi</b>"),
        escape(excerpt(t, broadcast, library)),
        t.plural("✅ Reçu par {n} personne", "✅ Reçu par {n} personnes", counts.sent),
    ]
    if counts.blocked:
        lines.append(
            t.plural(
                "🚫 {n} non remis : la personne a bloqué le bot",
                "🚫 {n} non remis : ces personnes ont bloqué le bot",
                counts.blocked,
            )
        )
    if counts.skipped:
        lines.append(
            t.plural(
                "⏸ {n} non envoyé : en pause ou plus inscrit",
                "⏸ {n} non envoyés : en pause ou plus inscrits",
                counts.skipped,
            )
        )
    if counts.failed:
        lines.append(t.plural("⚠️ {n} échec d'envoi", "⚠️ {n} échecs d'envoi", counts.failed))
    return "\n".join(lines)


def progress_text(
    t: Translator, broadcast: Broadcast, counts: Progress, library: ContentLibrary | None
) -> str:
    if broadcast.status == SCHEDULED and broadcast.scheduled_at is not None:
        return t.plural(
            "🕒 Programmé pour le {when}, pour {n} personne (à ce jour).",
            "🕒 Programmé pour le {when}, pour {n} personnes (à ce jour).",
            broadcast.recipients,
            when=t.when(broadcast.scheduled_at),
        )
    if broadcast.status == CANCELLED:
        return t("❌ Cet envoi a été annulé.")
    if broadcast.status == DONE:
        return report_text(t, broadcast, counts, library)
    text = t(
        "📤 <b>Envoi en cours</b> : {sent} reçus sur {total}, {pending} en attente.",
        sent=counts.sent,
        total=counts.total,
        pending=counts.pending,
    )
    if counts.blocked:
        text += "\n" + t("🚫 Non remis (bot bloqué) : {n}", n=counts.blocked)
    return text


# -- planners, renderers, after-send ------------------------------------------------------


async def plan_scheduled(session: AsyncSession, window: PlanWindow) -> list[Planned]:
    """Scheduled broadcasts whose time comes within the window start sending (their
    deliveries are queued here, due at the scheduled time)."""
    due = await session.scalars(
        select(Broadcast)
        .where(Broadcast.status == SCHEDULED, Broadcast.scheduled_at <= window.horizon)
        .order_by(Broadcast.scheduled_at, Broadcast.id)
        .with_for_update(skip_locked=True)
    )
    for broadcast in due.all():
        # Queued here rather than returned, so that the status changes in the same transaction.
        # The audience is resolved now: who attended the last session, who is reachable...
        await _begin(
            session, broadcast, await _recipients_of(session, broadcast, window.now), window.now
        )
    return []


async def plan_reports(session: AsyncSession, window: PlanWindow) -> list[Planned]:
    """Broadcasts whose deliveries are all final are done: their author gets the report."""
    unfinished = exists().where(
        Delivery.broadcast_id == Broadcast.id, Delivery.status.in_(_IN_FLIGHT)
    )
    finished = await session.scalars(
        select(Broadcast)
        .where(Broadcast.status == SENDING, ~unfinished)
        .with_for_update(skip_locked=True)
    )
    planned: list[Planned] = []
    for broadcast in finished.all():
        broadcast.status = DONE
        broadcast.completed_at = window.now
        if broadcast.author_id is not None:
            planned.append(
                Planned(
                    member_id=broadcast.author_id,
                    kind=REPORT_KIND,
                    dedup_key=f"{REPORT_PREFIX}{broadcast.id}",
                    due_at=window.now,
                    payload={"broadcast_id": broadcast.id},
                )
            )
    await session.flush()
    return planned


async def _enrolled(session: AsyncSession, member_id: int, cohort_id: int) -> bool:
    found = await session.scalar(
        select(Enrolment.id)
        .join(Cohort, Cohort.id == Enrolment.cohort_id)
        .where(
            and_(
                Enrolment.member_id == member_id,
                Enrolment.cohort_id == cohort_id,
                Enrolment.left_at.is_(None),
                Cohort.archived_at.is_(None),
            )
        )
    )
    return found is not None


async def render_broadcast(ctx: RenderContext, library: ContentLibrary) -> Rendered | Skip:
    broadcast_id = ctx.delivery.broadcast_id
    broadcast = await ctx.session.get(Broadcast, broadcast_id) if broadcast_id else None
    if broadcast is None:
        return Skip("broadcast deleted")
    if broadcast.status == CANCELLED:
        return Skip("broadcast cancelled")
    if not await _enrolled(ctx.session, ctx.member.id, broadcast.cohort_id):
        return Skip("member left the cohort")
    if broadcast.tip_id is None:
        return broadcast_message(broadcast)
    tip: Tip | None = library.tip(broadcast.tip_id)
    if tip is None:
        return Skip("tip no longer in the library")
    if await tips.has_tip(ctx.session, ctx.member.id, tip.id):
        return Skip("member has this tip already")
    return tips.tip_message(ctx.t, library, tip, ctx.member, first=False)


async def broadcast_sent(session: AsyncSession, delivery: Delivery, now: datetime) -> None:
    """A pushed tip counts as seen by its recipient."""
    if delivery.broadcast_id is None:
        return
    tip_id = await session.scalar(
        select(Broadcast.tip_id).where(Broadcast.id == delivery.broadcast_id)
    )
    if tip_id:
        await tips.record_receipt(session, delivery.member_id, tip_id, tips.Via.BROADCAST, now)


async def render_report(ctx: RenderContext, library: ContentLibrary) -> Rendered | Skip:
    broadcast_id = ctx.delivery.payload.get("broadcast_id")
    broadcast = (
        await ctx.session.get(Broadcast, broadcast_id) if isinstance(broadcast_id, int) else None
    )
    if broadcast is None:
        return Skip("broadcast deleted")
    counts = await progress(ctx.session, broadcast)
    return Rendered(
        text=report_text(ctx.t, broadcast, counts, library), buttons=buttons.tips_library(ctx.t)
    )


def register_deliveries(registry: DeliveryRegistry, library: ContentLibrary) -> None:
    """Add the broadcasts' planners and renderers to the outbox (see bot/delivery/features.py)."""

    async def render(ctx: RenderContext) -> Rendered | Skip:
        return await render_broadcast(ctx, library)

    async def render_author_report(ctx: RenderContext) -> Rendered | Skip:
        return await render_report(ctx, library)

    registry.add_planner("broadcasts", plan_scheduled)
    registry.add_planner("broadcast_reports", plan_reports)
    registry.add_renderer(BROADCAST_KIND, render, broadcast_sent)
    # The author may be a merchant too, and paused as one: the report still reaches them.
    registry.add_renderer(REPORT_KIND, render_author_report, when_paused=True)
