"""What the outbox sends about sessions: planners and renderers.

Planners (cost: the sessions that fall due, found on the indexed `starts_at`):

- **reminders** at `REMINDER_OFFSETS_MINUTES` before each session, to enrolled members who
  did not say no; the last one (2 h by default) is urgent so quiet hours do not hold it.
  Key `reminder:session:<id>:<revision>:<offset>`: a moved session (new revision) gets new
  reminders, and the renderer skips those of an old revision. A reminder planned late is
  still sent while it is the freshest one (until the next offset's time, the last until
  the start); after that the renderer skips it as superseded.
- **follow-ups** the day after, at `FOLLOWUP_LOCAL_TIME` in the cohort's zone: a thank-you
  with the theme to those present (`followup:session:<id>:thanks`), a "we missed you" with
  the trainer's one-line summary to those who said yes but did not come
  (`followup:session:<id>:missed`).
- **the summary question** to the cohort's trainers when the session ends
  (`followup:session:<id>:summary`), urgent: they have just left the room.

Renderers run at send time in the member's language and the cohort's zone, and `Skip` a
delivery whose reason disappeared (session cancelled or moved, member said no, ...).
Change notices (kind `session_notice`) are enqueued by sessions.py and rsvp.py.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import buttons
from bot.content import ContentLibrary
from bot.delivery.registry import (
    DeliveryRegistry,
    Planned,
    PlanWindow,
    RenderContext,
    Rendered,
    Skip,
)
from bot.i18n import Translator
from bot.models import (
    Attendance,
    Cohort,
    Delivery,
    DeliveryKind,
    Enrolment,
    Member,
    Role,
    Rsvp,
    RsvpAnswer,
    StaffRole,
    TrainingSession,
)
from bot.services import rsvp as rsvp_service
from bot.services.sessions import NOTICE_KIND

REMINDER_KIND = DeliveryKind.REMINDER.value
FOLLOWUP_KIND = DeliveryKind.FOLLOWUP.value
# The day-after messages leave at this local time (after quiet hours, before the day fills).
FOLLOWUP_LOCAL_TIME = time(10, 0)
# A follow-up not sent within this long after its time has lost its point.
FOLLOWUP_LATE_LIMIT = timedelta(days=1)
# Ask the trainer for the summary at most this long after the session ended.
SUMMARY_LATE_LIMIT = timedelta(hours=12)
# Sessions longer than this are not expected (bounds the summary planner's window).
MAX_SESSION_LENGTH = timedelta(hours=8)


# --- texts shared with the handlers -----------------------------------------------------------


def theme_of(ts: TrainingSession, lang: str, library: ContentLibrary | None) -> str:
    """The theme in the reader's language when it comes from the curriculum."""
    if ts.theme_code and library is not None:
        for item in library.sessions:
            if item.main_theme == ts.theme_code:
                return item.title(lang)
    return ts.theme


def in_cohort_zone(t: Translator, zone: str | None) -> Translator:
    return t.with_zone(zone) if zone else t


def describe(t: Translator, ts: TrainingSession, library: ContentLibrary | None) -> str:
    """Date and time in words, place, theme: the body of every message about a session."""
    return t(
        "🗓 {when}\n📍 {place}\n🎯 {theme}",
        when=t.when(ts.starts_at),
        place=ts.place,
        theme=theme_of(ts, t.lang, library),
    )


def rsvp_line(t: Translator, state: rsvp_service.RsvpState) -> str:
    if state.answer is RsvpAnswer.YES:
        return t("✅ Vous avez dit que vous venez. À bientôt !")
    if state.answer is RsvpAnswer.WAITLIST:
        return t(
            "⏳ Vous êtes n°{position} sur la liste d'attente. Je vous préviens si une place "
            "se libère.",
            position=state.position or "?",
        )
    if state.answer is RsvpAnswer.NO:
        return t("❌ Vous avez dit que vous ne pouvez pas venir.")
    return t("Vous venez ?")


def chosen(state: rsvp_service.RsvpState) -> Literal["yes", "no"] | None:
    """Which RSVP button points at the member's answer (the waiting list said yes)."""
    if state.answer in (RsvpAnswer.YES, RsvpAnswer.WAITLIST):
        return "yes"
    return "no" if state.answer is RsvpAnswer.NO else None


def _is_rsvp_line(t: Translator, plain: str) -> bool:
    """Whether `plain` (a paragraph as the reader sees it) is one of `rsvp_line`'s texts or
    the moved notice's question, in `t`'s language."""
    fixed = [rsvp_line(t, rsvp_service.RsvpState(a)) for a in (RsvpAnswer.YES, RsvpAnswer.NO, None)]
    fixed.append(t("Vous venez toujours ?"))
    if plain in {html.unescape(line) for line in fixed}:
        return True
    marker = 987654321  # stands for the position, which the line may show as a number or "?"
    waiting = html.unescape(rsvp_line(t, rsvp_service.RsvpState(RsvpAnswer.WAITLIST, marker)))
    head, _, tail = waiting.partition(str(marker))
    number = plain[len(head) : len(plain) - len(tail)]
    return (
        len(plain) > len(head) + len(tail)
        and plain.startswith(head)
        and plain.endswith(tail)
        and (number.isdigit() or number == "?")
    )


def restate_rsvp_line(
    t: Translator, plain: str, html_text: str, state: rsvp_service.RsvpState
) -> str | None:
    """A message about a session (reminder, `/seances` card, moved notice) with its last
    paragraph, the member's answer or the question, replaced by `state`'s `rsvp_line`.

    `plain` and `html_text` are the message as shown and as HTML. None when its last paragraph
    is no such line (another message, or one sent in another language) or already says it:
    then only the buttons say the answer.
    """
    _, found, last = plain.rpartition("\n\n")
    head, sep, _ = html_text.rpartition("\n\n")
    if not found or not sep or not _is_rsvp_line(t, last):
        return None
    line = rsvp_line(t, state)
    return None if html.unescape(line) == last else head + sep + line


# --- planners -----------------------------------------------------------------------------------


def _recipients_query(cohort_id: int, key: str) -> Select[int]:
    """Enrolled, reachable members of a cohort who do not have the delivery `key` yet."""
    return (
        select(Member.id)
        .join(Enrolment, Enrolment.member_id == Member.id)
        .where(
            Enrolment.cohort_id == cohort_id,
            Enrolment.left_at.is_(None),
            Member.chat_id.is_not(None),
            Member.reachable.is_(True),
            Member.paused.is_(False),
            ~exists().where(Delivery.member_id == Member.id, Delivery.dedup_key == key),
        )
    )


def reminder_key(session_id: int, revision: int, offset: int) -> str:
    return f"reminder:session:{session_id}:{revision}:{offset}"


def _offsets(window: PlanWindow) -> list[int]:
    return sorted(
        {int(m) for m in window.settings.reminder_offsets_minutes if int(m) > 0}, reverse=True
    )


def reminder_due(ts: TrainingSession, offset: int) -> datetime:
    return ts.starts_at - timedelta(minutes=offset)


def _superseded_at(ts: TrainingSession, offset: int, offsets: Sequence[int]) -> datetime:
    """When the reminder at `offset` stops being the freshest: the next one's time."""
    later = [other for other in offsets if other < offset]
    return reminder_due(ts, max(later)) if later else ts.starts_at


async def plan_reminders(session: AsyncSession, window: PlanWindow) -> list[Planned]:
    offsets = _offsets(window)
    if not offsets:
        return []
    sessions = await session.scalars(
        select(TrainingSession).where(
            TrainingSession.starts_at > window.now,
            TrainingSession.starts_at <= window.horizon + timedelta(minutes=offsets[0]),
            TrainingSession.cancelled_at.is_(None),
        )
    )
    planned: list[Planned] = []
    last = offsets[-1]
    for ts in sessions.all():
        for offset in offsets:
            due = reminder_due(ts, offset)
            if due > window.horizon or window.now >= _superseded_at(ts, offset, offsets):
                continue
            key = reminder_key(ts.id, ts.revision, offset)
            said_no = select(Rsvp.member_id).where(
                Rsvp.session_id == ts.id,
                Rsvp.answer == RsvpAnswer.NO.value,
                Rsvp.member_id.is_not(None),
            )
            query = _recipients_query(ts.cohort_id, key).where(Member.id.not_in(said_no))
            for member_id in (await session.scalars(query)).all():
                planned.append(
                    Planned(
                        member_id=member_id,
                        kind=REMINDER_KIND,
                        dedup_key=key,
                        due_at=due,
                        payload={"session_id": ts.id, "revision": ts.revision, "offset": offset},
                        urgent=offset == last,
                    )
                )
    return planned


def followup_due(ts: TrainingSession, zone: str) -> datetime:
    """The day after the session, at FOLLOWUP_LOCAL_TIME in the cohort's zone, in UTC."""
    tz = ZoneInfo(zone)
    day = ts.starts_at.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(day, FOLLOWUP_LOCAL_TIME, tzinfo=tz).astimezone(UTC)


async def plan_followups(session: AsyncSession, window: PlanWindow) -> list[Planned]:
    # Sessions whose follow-up time (next day, 10:00 local) may fall in the window.
    rows = await session.execute(
        select(TrainingSession, Cohort.timezone)
        .join(Cohort, Cohort.id == TrainingSession.cohort_id)
        .where(
            TrainingSession.starts_at > window.now - FOLLOWUP_LATE_LIMIT - timedelta(days=2),
            TrainingSession.starts_at <= window.horizon,
            TrainingSession.cancelled_at.is_(None),
        )
    )
    planned: list[Planned] = []
    for ts, zone in rows.all():
        due = followup_due(ts, zone)
        if due > window.horizon or window.now > due + FOLLOWUP_LATE_LIMIT:
            continue
        present = select(Attendance.member_id).where(
            Attendance.session_id == ts.id, Attendance.member_id.is_not(None)
        )
        said_yes = select(Rsvp.member_id).where(
            Rsvp.session_id == ts.id,
            Rsvp.answer == RsvpAnswer.YES.value,
            Rsvp.member_id.is_not(None),
        )
        for kind, condition in (
            ("thanks", Member.id.in_(present)),
            ("missed", Member.id.in_(said_yes) & Member.id.not_in(present)),
        ):
            key = f"followup:session:{ts.id}:{kind}"
            query = _recipients_query(ts.cohort_id, key).where(condition)
            for member_id in (await session.scalars(query)).all():
                planned.append(
                    Planned(
                        member_id=member_id,
                        kind=FOLLOWUP_KIND,
                        dedup_key=key,
                        due_at=due,
                        payload={"session_id": ts.id, "type": kind},
                    )
                )
    return planned


async def plan_summary_requests(session: AsyncSession, window: PlanWindow) -> list[Planned]:
    sessions = await session.scalars(
        select(TrainingSession).where(
            TrainingSession.starts_at > window.now - SUMMARY_LATE_LIMIT - MAX_SESSION_LENGTH,
            TrainingSession.starts_at <= window.horizon,
            TrainingSession.cancelled_at.is_(None),
            TrainingSession.summary.is_(None),
        )
    )
    planned: list[Planned] = []
    for ts in sessions.all():
        if ts.ends_at > window.horizon or window.now > ts.ends_at + SUMMARY_LATE_LIMIT:
            continue
        key = f"followup:session:{ts.id}:summary"
        trainers = await session.scalars(
            select(Member.id)
            .join(StaffRole, StaffRole.member_id == Member.id)
            .where(
                StaffRole.cohort_id == ts.cohort_id,
                StaffRole.role == Role.TRAINER.value,
                Member.chat_id.is_not(None),
                Member.reachable.is_(True),
                ~exists().where(Delivery.member_id == Member.id, Delivery.dedup_key == key),
            )
        )
        for member_id in trainers.all():
            planned.append(
                Planned(
                    member_id=member_id,
                    kind=FOLLOWUP_KIND,
                    dedup_key=key,
                    due_at=ts.ends_at,
                    payload={"session_id": ts.id, "type": "summary"},
                    urgent=True,
                )
            )
    return planned


# --- renderers ----------------------------------------------------------------------------------


async def _session_and_t(ctx: RenderContext) -> tuple[TrainingSession, Translator] | Skip:
    session_id = ctx.delivery.payload.get("session_id")
    ts = await ctx.session.get(TrainingSession, session_id) if isinstance(session_id, int) else None
    if ts is None:
        return Skip("session deleted")
    zone = await ctx.session.scalar(select(Cohort.timezone).where(Cohort.id == ts.cohort_id))
    return ts, in_cohort_zone(ctx.t, zone)


async def _enrolled(ctx: RenderContext, cohort_id: int) -> bool:
    found = await ctx.session.scalar(
        select(Enrolment.id).where(
            Enrolment.cohort_id == cohort_id,
            Enrolment.member_id == ctx.member.id,
            Enrolment.left_at.is_(None),
        )
    )
    return found is not None


async def render_reminder(ctx: RenderContext) -> Rendered | Skip:
    found = await _session_and_t(ctx)
    if isinstance(found, Skip):
        return found
    ts, t = found
    payload = ctx.delivery.payload
    offset = int(payload.get("offset", 0))
    if ts.cancelled_at is not None:
        return Skip("session cancelled")
    if payload.get("revision") != ts.revision:
        return Skip("session moved")
    offsets = sorted({int(m) for m in ctx.settings.reminder_offsets_minutes}, reverse=True)
    if ctx.now >= _superseded_at(ts, offset, offsets or [offset]):
        return Skip("superseded by a later reminder")
    if not await _enrolled(ctx, ts.cohort_id):
        return Skip("member left the cohort")
    state = (await rsvp_service.states(ctx.session, [ts.id], ctx.member.id))[ts.id]
    if state.answer is RsvpAnswer.NO:
        return Skip("member said no")
    text = "\n".join(
        (
            t("⏰ <b>Rappel : séance {number}</b>", number=ts.number),
            describe(t, ts, ctx.content),
            "",
            rsvp_line(t, state),
        )
    )
    return Rendered(text=text, buttons=buttons.rsvp(t, ts.id, chosen(state)))


async def render_notice(ctx: RenderContext) -> Rendered | Skip:
    found = await _session_and_t(ctx)
    if isinstance(found, Skip):
        return found
    ts, t = found
    payload = ctx.delivery.payload
    change = payload.get("change")
    if change == "cancelled":
        return Rendered(
            text=t(
                "❌ <b>Séance {number} annulée</b>\nLa séance du {when} n'aura pas lieu. "
                "Désolé pour le contretemps ! Je vous dirai quand la suivante est prévue.",
                number=ts.number,
                when=t.when(ts.starts_at),
            )
        )
    if ts.cancelled_at is not None:
        return Skip("session cancelled")
    if ctx.now >= ts.starts_at:
        return Skip("session started")
    if change == "moved":
        if payload.get("revision") != ts.revision:
            return Skip("superseded by a later move")
        old = datetime.fromisoformat(str(payload.get("old_starts_at")))
        text = "\n".join(
            (
                t(
                    "🕒 <b>Séance {number} déplacée</b> (elle était prévue le {old}).",
                    number=ts.number,
                    old=t.when(old),
                ),
                describe(t, ts, ctx.content),
                "",
                t("Vous venez toujours ?"),
            )
        )
        return Rendered(text=text, buttons=buttons.rsvp(t, ts.id))
    if change == "place":
        if payload.get("place") != ts.place:
            return Skip("superseded by a later change of place")
        return Rendered(
            text="\n".join(
                (
                    t("📍 <b>Nouveau lieu pour la séance {number}</b>", number=ts.number),
                    describe(t, ts, ctx.content),
                )
            )
        )
    if change == "promoted":
        if await rsvp_service.answer_of(ctx.session, ts.id, ctx.member.id) is not RsvpAnswer.YES:
            return Skip("no longer has a seat")
        text = "\n".join(
            (
                t(
                    "🎉 <b>Une place s'est libérée !</b> "
                    "Votre place est réservée pour la séance {number}.",
                    number=ts.number,
                ),
                describe(t, ts, ctx.content),
                "",
                t("Si vous ne pouvez plus venir, dites-le ici pour laisser la place."),
            )
        )
        return Rendered(text=text, buttons=buttons.rsvp(t, ts.id))
    return Skip(f"unknown change {change!r}")


async def _next_session(ctx: RenderContext, ts: TrainingSession) -> TrainingSession | None:
    return await ctx.session.scalar(
        select(TrainingSession)
        .where(
            TrainingSession.cohort_id == ts.cohort_id,
            TrainingSession.cancelled_at.is_(None),
            TrainingSession.starts_at > ctx.now,
        )
        .order_by(TrainingSession.starts_at)
        .limit(1)
    )


async def render_followup(ctx: RenderContext) -> Rendered | Skip:
    found = await _session_and_t(ctx)
    if isinstance(found, Skip):
        return found
    ts, t = found
    if ts.cancelled_at is not None:
        return Skip("session cancelled")
    kind = ctx.delivery.payload.get("type")
    if kind == "summary":
        if ts.summary:
            return Skip("summary already given")
        present = len(
            (
                await ctx.session.scalars(
                    select(Attendance.id).where(Attendance.session_id == ts.id)
                )
            ).all()
        )
        text = t.plural(
            "📝 Séance {number} terminée ({n} personne présente). En une ligne, qu'en retenir ? "
            "Je l'enverrai demain à ceux qui avaient dit oui mais n'ont pas pu venir.",
            "📝 Séance {number} terminée ({n} personnes présentes). En une ligne, qu'en retenir ? "
            "Je l'enverrai demain à ceux qui avaient dit oui mais n'ont pas pu venir.",
            present,
            number=ts.number,
        )
        return Rendered(text=text, buttons=buttons.write_summary(t, ts.id))
    present = (
        await ctx.session.scalar(
            select(Attendance.id).where(
                Attendance.session_id == ts.id, Attendance.member_id == ctx.member.id
            )
        )
        is not None
    )
    lines: list[str]
    if kind == "thanks":
        if not present:
            return Skip("not recorded as present any more")
        lines = [
            t(
                "🙏 Merci pour votre présence à la séance {number} « {theme} » ! "
                "Gardez en tête une idée à essayer cette semaine.",
                number=ts.number,
                theme=theme_of(ts, t.lang, ctx.content),
            )
        ]
    elif kind == "missed":
        said = await rsvp_service.answer_of(ctx.session, ts.id, ctx.member.id)
        if present or said is not RsvpAnswer.YES:
            return Skip("came after all, or changed the answer")
        lines = [
            t(
                "👋 Vous nous avez manqué à la séance {number} « {theme} ».",
                number=ts.number,
                theme=theme_of(ts, t.lang, ctx.content),
            )
        ]
        if ts.summary:
            lines.append(t("En une ligne, de la part du formateur : {summary}", summary=ts.summary))
    else:
        return Skip(f"unknown follow-up {kind!r}")
    upcoming = await _next_session(ctx, ts)
    if upcoming is not None:
        lines.append(
            t(
                "Prochaine séance : {when}, {place}.",
                when=t.when(upcoming.starts_at),
                place=upcoming.place,
            )
        )
        return Rendered(text="\n\n".join(lines), buttons=buttons.rsvp(t, upcoming.id))
    return Rendered(text="\n\n".join(lines))


def register_deliveries(registry: DeliveryRegistry) -> None:
    """Add the sessions' planners and renderers to the outbox (see bot/delivery/features.py)."""
    registry.add_planner("session_reminders", plan_reminders)
    registry.add_planner("session_followups", plan_followups)
    registry.add_planner("session_summary_requests", plan_summary_requests)
    registry.add_renderer(REMINDER_KIND, render_reminder)
    registry.add_renderer(FOLLOWUP_KIND, render_followup)
    # A member who paused the tips still needs to know that a session they come to moved.
    registry.add_renderer(NOTICE_KIND, render_notice, when_paused=True)
