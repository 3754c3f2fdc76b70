"""The tip drip: which tip a merchant gets next, when the outbox sends it, and 👍 / 👎.

Choosing (`choose_tip`, a pure function; `pick_tip` gathers its inputs)
    Never a tip the member already has (`TipReceipt` is unique per member and tip, whatever
    brought it: the drip, /astuce, a trainer's push, a "stuck" answer). Among the others,
    only tips that suit the member's sector (their sector's own, or "all"), ranked by:

    1. the session that matters now: the theme of the last session they attended, else of
       the cohort's last session (`TrainingSession.theme_code`), with the other themes of that
       curriculum session; before any session, the themes of the curriculum's first session
       (the welcome). Those come before every other theme;
    2. level progression, within each of those two groups: nothing above the member's level
       while an easier tip is left (level 1 for the first `LEVEL_STEP` tips, then 2, then 3);
    3. the session's own theme before its companion themes;
    4. their sector's own tips before the generic ones;
    5. what they marked useful: themes with more 👍 than 👎 first, themes they 👎 last;
    6. easiest first, then the curriculum's order.

When (the planner `plan_tips`, kind `tip`, key `tip:<YYYY-MM-DD>`)
    One tip per member per tip day, at their tip time, in the zone of their active cohort; the
    key is that local day, so planning again (or from two processes) never doubles a tip. A
    moment missed by up to `LATE_TOLERANCE` (the bot was down) is still sent; older ones are
    not (no backlog). A newly joined merchant's first tip is the welcome tip, on the first tip
    day after the day they joined. Paused, unreachable and no-longer-enrolled members get
    none; the dispatcher holds anything due in the quiet hours.

    Cost: each member's next tip moment is stored (`members.next_tip_at`, indexed); a tick
    reads only the members whose moment has come, plans their tip and stores their next
    moment (bot/delivery/due.py). Whatever moves a member's moments or their right to a tip
    (tip days or time, pause, joining a cohort) resets it to NULL in its own unit of work,
    and the next tick works it out again. It never reads the whole population.

Rendering happens at send time, in the member's language: the tip is chosen then (so it is
fresh, and a tip read meanwhile through /astuce is not repeated), written into the
delivery's payload, and recorded as seen by the after-send hook once Telegram has it.

Longer than our ~600 lines on purpose: choosing, planning and rendering a tip share one
set of rules (levels, themes, what was seen); split, each half would import the other.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.lists import format_list
from sqlalchemy import and_, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot import buttons
from bot.config import WEEKDAYS
from bot.content import ContentLibrary, Tip
from bot.delivery.due import AnyRow, Rows, idle_until, plan_due
from bot.delivery.quiet import first_instant_at
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
    DeliveryStatus,
    Enrolment,
    Member,
    TipReceipt,
    TrainingSession,
)
from bot.services import booster, progress
from bot.services.booster import Phase
from bot.services.preferences import parse_days

TIP_KIND = DeliveryKind.TIP.value
KEY_PREFIX = "tip:"
# A tip moment missed by this much (the bot was down) is still sent; older ones are dropped.
LATE_TOLERANCE = timedelta(hours=6)
# A tip held this long after its moment (quiet hours, retries) has lost its day: skip it.
STALE_AFTER = timedelta(hours=18)
# Tips received before the next level opens.
LEVEL_STEP = 6
MAX_LEVEL = 3
# Planned tips looked up in the outbox per query.
_CHECK_CHUNK = 1000
_TIP_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class Via(StrEnum):
    """How a member came to have a tip (TipReceipt.via)."""

    DRIP = "drip"
    ASTUCE = "astuce"
    BROADCAST = "broadcast"
    STUCK = "stuck"


class Vote(StrEnum):
    UP = "up"
    DOWN = "down"


def parse_vote(value: str) -> Vote | None:
    try:
        return Vote(value)
    except ValueError:
        return None


def is_tip_id(value: str) -> bool:
    """Whether a string from callback data looks like a tip id (it is untrusted input)."""
    return len(value) <= 64 and bool(_TIP_ID.match(value))


# -- choosing: pure functions ------------------------------------------------------------


@dataclass(frozen=True)
class TipProfile:
    """What the choice of a member's next tip depends on (besides what they have seen)."""

    sector: str | None
    # Themes of the session that matters now, most relevant first.
    focus: tuple[str, ...] = ()
    # theme -> number of 👍 minus number of 👎 the member gave to tips of that theme.
    taste: Mapping[str, int] = field(default_factory=dict)
    level: int = 1


def level_for(received: int) -> int:
    """The member's level after `received` tips: 1, then 2, then 3."""
    return min(MAX_LEVEL, 1 + received // LEVEL_STEP)


def rank(tip: Tip, profile: TipProfile) -> tuple[int, int, int, int, int, int, int, str]:
    """The sort key of a tip for this member (smaller comes first); see the module docstring."""
    focus = profile.focus
    in_focus = tip.theme in focus
    return (
        0 if in_focus else 1,
        int(tip.level > profile.level),
        focus.index(tip.theme) if in_focus else len(focus),
        0 if profile.sector is not None and profile.sector in tip.sectors else 1,
        -profile.taste.get(tip.theme, 0),
        tip.level,
        tip.session,
        tip.id,
    )


def choose_tip(tips: Iterable[Tip], profile: TipProfile, seen: Collection[str]) -> Tip | None:
    """The best tip this member has not seen, or None when none is left for them."""
    candidates = [tip for tip in tips if tip.id not in seen and tip.suits(profile.sector)]
    return min(candidates, key=lambda tip: rank(tip, profile), default=None)


def session_focus(library: ContentLibrary, theme_code: str | None) -> tuple[str, ...]:
    """A session's theme, then the other themes of the curriculum session it is the main of."""
    if not theme_code or theme_code not in library.themes:
        return ()
    focus = [theme_code]
    for item in library.sessions:
        if item.main_theme == theme_code:
            focus += [theme for theme in item.themes if theme not in focus]
    return tuple(focus)


def welcome_focus(library: ContentLibrary) -> tuple[str, ...]:
    """Before any session: the themes of the curriculum's first session."""
    sessions = sorted(library.sessions, key=lambda item: item.number)
    return tuple(sessions[0].themes) if sessions else ()


# -- choosing: the member's data ------------------------------------------------------------


async def focus_theme_code(
    session: AsyncSession, member_id: int, cohort_id: int | None, now: datetime
) -> tuple[bool, str | None]:
    """(whether a session has started in the cohort, the theme code that matters now)."""
    if cohort_id is None:
        return False, None
    started = (
        TrainingSession.cohort_id == cohort_id,
        TrainingSession.cancelled_at.is_(None),
        TrainingSession.starts_at <= now,
    )
    attended = await session.scalar(
        select(TrainingSession.theme_code)
        .join(Attendance, Attendance.session_id == TrainingSession.id)
        .where(Attendance.member_id == member_id, *started)
        .order_by(TrainingSession.starts_at.desc(), TrainingSession.id.desc())
        .limit(1)
    )
    if attended is not None:
        return True, attended
    row = (
        await session.execute(
            select(TrainingSession.id, TrainingSession.theme_code)
            .where(*started)
            .order_by(TrainingSession.starts_at.desc(), TrainingSession.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return False, None
    return True, row[1]


async def seen_and_taste(
    session: AsyncSession, library: ContentLibrary, member_id: int
) -> tuple[frozenset[str], dict[str, int]]:
    rows = (
        await session.execute(
            select(TipReceipt.tip_id, TipReceipt.feedback).where(TipReceipt.member_id == member_id)
        )
    ).all()
    taste: Counter[str] = Counter()
    for tip_id, feedback in rows:
        tip = library.tip(tip_id)
        if tip is None or feedback is None:
            continue
        taste[tip.theme] += 1 if feedback == Vote.UP.value else -1
    return frozenset(tip_id for tip_id, _ in rows), dict(taste)


async def member_profile(
    session: AsyncSession, library: ContentLibrary, member: Member, now: datetime
) -> tuple[TipProfile, frozenset[str]]:
    """The member's profile for choosing, and the ids of the tips they already have."""
    seen, taste = await seen_and_taste(session, library, member.id)
    any_session, code = await focus_theme_code(session, member.id, member.active_cohort_id, now)
    focus = session_focus(library, code) if any_session else welcome_focus(library)
    profile = TipProfile(sector=member.sector, focus=focus, taste=taste, level=level_for(len(seen)))
    return profile, seen


async def pick_tip(
    session: AsyncSession,
    library: ContentLibrary,
    member: Member,
    now: datetime,
    *,
    exclude: Collection[str] = (),
) -> tuple[Tip | None, bool]:
    """(the member's next tip or None, whether it is their first tip ever)."""
    profile, seen = await member_profile(session, library, member, now)
    tip = choose_tip(library.tips, profile, seen | frozenset(exclude))
    return tip, not seen


async def record_receipt(
    session: AsyncSession, member_id: int, tip_id: str, via: Via, now: datetime
) -> bool:
    """Remember that the member has this tip; False if they had it already."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    result = await session.execute(
        insert(TipReceipt)
        .values(member_id=member_id, tip_id=tip_id, via=via.value, received_at=now)
        .on_conflict_do_nothing(index_elements=["member_id", "tip_id"])
    )
    return bool(getattr(result, "rowcount", 0))


async def has_tip(session: AsyncSession, member_id: int, tip_id: str) -> bool:
    found = await session.scalar(
        select(TipReceipt.id).where(TipReceipt.member_id == member_id, TipReceipt.tip_id == tip_id)
    )
    return found is not None


@dataclass(frozen=True)
class TipNow:
    tip: Tip
    first: bool
    member: Member


async def tip_now(
    session: AsyncSession, library: ContentLibrary, member_id: int, now: datetime
) -> TipNow | None:
    """`/astuce`: the member's next tip by the drip's rules, counted as seen at once."""
    member = await session.get(Member, member_id)
    if member is None:
        return None
    tip, first = await pick_tip(session, library, member, now)
    if tip is None:
        return None
    await record_receipt(session, member_id, tip.id, Via.ASTUCE, now)
    return TipNow(tip, first, member)


# -- feedback ----------------------------------------------------------------------------


async def record_feedback(
    session: AsyncSession, member_id: int, tip_id: str, vote: Vote, now: datetime
) -> bool:
    """Store 👍 / 👎 on a tip the member received (a later answer replaces the first).

    False when this member never received that tip: the button was forged or belongs to
    someone else's message.
    """
    result = await session.execute(
        update(TipReceipt)
        .where(TipReceipt.member_id == member_id, TipReceipt.tip_id == tip_id)
        .values(feedback=vote.value, feedback_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class TipScore:
    tip_id: str
    up: int
    down: int

    @property
    def net(self) -> int:
        return self.up - self.down


@dataclass(frozen=True)
class FeedbackSummary:
    """The cohort's answers to tips: totals, the most and the least useful tips."""

    up: int
    down: int
    most_useful: tuple[TipScore, ...]
    least_useful: tuple[TipScore, ...]

    @property
    def answers(self) -> int:
        return self.up + self.down


async def feedback_summary(
    session: AsyncSession, cohort_id: int, limit: int = 3
) -> FeedbackSummary:
    """Most useful (more 👍 than 👎) and least useful (more 👎) tips among the cohort's members."""
    up = func.sum(case((TipReceipt.feedback == Vote.UP.value, 1), else_=0))
    down = func.sum(case((TipReceipt.feedback == Vote.DOWN.value, 1), else_=0))
    members = select(Enrolment.member_id).where(Enrolment.cohort_id == cohort_id)
    rows = (
        await session.execute(
            select(TipReceipt.tip_id, up, down)
            .where(TipReceipt.feedback.is_not(None), TipReceipt.member_id.in_(members))
            .group_by(TipReceipt.tip_id)
        )
    ).all()
    scores = [TipScore(tip_id, int(ups or 0), int(downs or 0)) for tip_id, ups, downs in rows]
    best = sorted((s for s in scores if s.net > 0), key=lambda s: (-s.net, -s.up, s.tip_id))[:limit]
    worst = sorted((s for s in scores if s.net < 0), key=lambda s: (s.net, -s.down, s.tip_id))[
        :limit
    ]
    return FeedbackSummary(
        up=sum(s.up for s in scores),
        down=sum(s.down for s in scores),
        most_useful=tuple(best),
        least_useful=tuple(worst),
    )


# -- texts shared by the drip, /astuce, pushes and the trainer's library -------------------


def tip_title(library: ContentLibrary, tip: Tip, lang: str, limit: int = 60) -> str:
    """The tip's short plain-text title in `lang` (its front matter `title:`), for buttons
    and lists; the check keeps titles within 40 characters, `limit` is a last guard."""
    title = tip.title(lang)
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def days_text(t: Translator, days: Sequence[str]) -> str:
    """ "mardi et vendredi" in the reader's language."""
    names = t.locale.days["format"]["wide"]
    return format_list([str(names[WEEKDAYS.index(day)]) for day in days], locale=t.locale)


def tip_text(
    t: Translator,
    library: ContentLibrary,
    tip: Tip,
    *,
    first_name: str | None,
    business_name: str | None,
    welcome: tuple[Sequence[str], time] | None = None,
) -> str:
    """The message of a tip: its theme, its text; for a first tip, a word on the rhythm."""
    parts: list[str] = []
    if welcome is not None:
        days, at = welcome
        parts.append(
            t(
                "👋 Voici votre première astuce ! Vous en recevrez une chaque {days} à {time}. "
                "Pour changer les jours ou l'heure : ⚙️ Réglages.",
                days=days_text(t, days),
                time=t.time(at),
            )
        )
    parts.append(t("💡 <b>Astuce</b> · {theme}", theme=library.theme_name(tip.theme, t.lang)))
    parts.append(library.render(tip, t.lang, first_name=first_name, business_name=business_name))
    return "\n\n".join(parts)


def tip_message(
    t: Translator, library: ContentLibrary, tip: Tip, member: Member, *, first: bool
) -> Rendered:
    """What a merchant receives for a tip (drip, /astuce, or a trainer's push)."""
    welcome = (parse_days(member.tip_days), member.tip_time) if first else None
    text = tip_text(
        t,
        library,
        tip,
        first_name=member.first_name,
        business_name=member.business_name,
        welcome=welcome if welcome and welcome[0] else None,
    )
    return Rendered(text=text, buttons=buttons.tip_votes(t, tip))


# -- the planner ---------------------------------------------------------------------------


def tip_key(day: date) -> str:
    return f"{KEY_PREFIX}{day.isoformat()}"


def local_moment(day: date, at: time, zone: tzinfo) -> datetime:
    """`day` at wall time `at` in `zone`, in UTC (a time skipped by DST becomes the jump)."""
    return first_instant_at(datetime.combine(day, at), zone)


def tip_weekdays(tip_days: str | None) -> frozenset[int]:
    """The member's tip days as weekday numbers (0 = Monday); none: no tip, ever."""
    return frozenset(WEEKDAYS.index(day) for day in parse_days(tip_days))


def tip_moments(
    days: frozenset[int], at: time, zone: tzinfo, start: datetime, end: datetime
) -> list[tuple[date, datetime]]:
    """(local day, UTC instant) of each tip moment within [start, end], in order.

    Computed day by day in wall time, so a daylight-saving change in between moves the UTC
    instant and never the wall time."""
    moments = []
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        if day.weekday() in days:
            moment = local_moment(day, at, zone)
            if start <= moment <= end:
                moments.append((day, moment))
        day += timedelta(days=1)
    return moments


def next_tip_moment(days: frozenset[int], at: time, zone: tzinfo, after: datetime) -> datetime:
    """The first tip moment strictly after `after` (`days` must not be empty)."""
    day = after.astimezone(zone).date()
    while True:
        if day.weekday() in days and (moment := local_moment(day, at, zone)) > after:
            return moment
        day += timedelta(days=1)


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _tip_rows(sessions: int | None) -> Rows:
    """Each member with what their tip moments and their right to a tip depend on."""
    return (
        select(
            Member.id,
            Member.tip_days,
            Member.tip_time,
            Member.onboarded_at,
            Member.paused,
            Member.reachable,
            Member.chat_id,
            Cohort.timezone,
            Cohort.archived_at,
            Enrolment.joined_at,
            Enrolment.left_at,
            booster.end_expression(sessions),
            Cohort.booster_until,
        )
        .outerjoin(Cohort, Cohort.id == Member.active_cohort_id)
        .outerjoin(
            Enrolment,
            and_(
                Enrolment.member_id == Member.id,
                Enrolment.cohort_id == Member.active_cohort_id,
            ),
        )
    )


async def _evaluate_tips(
    rows: Sequence[AnyRow], window: PlanWindow
) -> tuple[list[Planned], dict[int, datetime]]:
    """The tips due in the window for these members, and each one's next tip moment."""
    earliest = window.now - LATE_TOLERANCE
    planned: list[Planned] = []
    next_at: dict[int, datetime] = {}
    for row in rows:
        member_id, tip_days, at, onboarded_at, paused, reachable, chat_id = row[:7]
        zone_name, archived_at, joined_at, left_at, raw_end, booster_until = row[7:]
        # A member without a cohort has no zone yet: joining one resets their time.
        zone = _zone(zone_name or window.settings.timezone)
        days = every_day = tip_weekdays(tip_days)
        # After the last session: one tip a week (the first tip day), none after the booster.
        end = booster.aware(raw_end)
        months = window.settings.booster_months
        phase = booster.phase_at(end, booster_until, window.horizon, months)
        if days and phase is not Phase.SESSIONS:
            days = frozenset({min(days)})
        if zone is None or not days:
            next_at[member_id] = idle_until(window)
            continue
        may_receive = (
            zone_name is not None
            and archived_at is None
            and joined_at is not None
            and left_at is None
            and onboarded_at is not None
            and not paused
            and reachable
            and chat_id is not None
            and phase is not Phase.AFTER
        )
        if may_receive:
            for day, moment in tip_moments(days, at, zone, earliest, window.horizon):
                if booster.phase_at(end, booster_until, moment, months) is Phase.AFTER:
                    continue
                # No backlog: a merchant's first tip day is the one after the day they joined.
                if joined_at < local_moment(day, time(0, 0), zone):
                    planned.append(
                        Planned(
                            member_id=member_id,
                            kind=TIP_KIND,
                            dedup_key=tip_key(day),
                            due_at=moment,
                            payload={"day": day.isoformat()},
                        )
                    )
        # Every tip day, whatever the phase: a lower bound if the cohort's end moves.
        next_at[member_id] = next_tip_moment(every_day, at, zone, window.horizon)
    return planned, next_at


async def _not_planned_yet(session: AsyncSession, planned: list[Planned]) -> list[Planned]:
    """Leave out the tips already in the outbox (planned late, or the member reset meanwhile)."""
    existing: set[tuple[int, str]] = set()
    for start in range(0, len(planned), _CHECK_CHUNK):
        chunk = planned[start : start + _CHECK_CHUNK]
        rows = await session.execute(
            select(Delivery.member_id, Delivery.dedup_key).where(
                Delivery.member_id.in_({item.member_id for item in chunk}),
                Delivery.dedup_key.in_({item.dedup_key for item in chunk}),
            )
        )
        existing.update((member_id, key) for member_id, key in rows)
    return [item for item in planned if (item.member_id, item.dedup_key) not in existing]


async def plan_tips(
    session: AsyncSession, window: PlanWindow, sessions: int | None = None
) -> list[Planned]:
    """One `tip` delivery per member whose tip moment falls in the window (see the docstring)."""
    planned = await plan_due(
        session, window, rows=_tip_rows(sessions), due=Member.next_tip_at, evaluate=_evaluate_tips
    )
    fresh = await _not_planned_yet(session, planned)
    return sorted(fresh, key=lambda item: (item.dedup_key, item.member_id))


# -- the renderer and the after-send hook ------------------------------------------------


async def _enrolled_in_active_cohort(session: AsyncSession, member: Member) -> bool:
    if member.active_cohort_id is None:
        return False
    found = await session.scalar(
        select(Enrolment.id)
        .join(Cohort, Cohort.id == Enrolment.cohort_id)
        .where(
            Enrolment.member_id == member.id,
            Enrolment.cohort_id == member.active_cohort_id,
            Enrolment.left_at.is_(None),
            Cohort.archived_at.is_(None),
        )
    )
    return found is not None


async def _chosen_elsewhere(session: AsyncSession, delivery: Delivery) -> set[str]:
    """Tips already chosen for this member's other tip deliveries not yet sent (e.g. rendered
    in the same claim), so two of them never carry the same tip."""
    payloads = await session.scalars(
        select(Delivery.payload).where(
            Delivery.member_id == delivery.member_id,
            Delivery.kind == TIP_KIND,
            Delivery.id != delivery.id,
            Delivery.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]),
        )
    )
    return {str(p["tip_id"]) for p in payloads if isinstance(p, dict) and p.get("tip_id")}


async def render_tip(ctx: RenderContext, library: ContentLibrary) -> Rendered | Skip:
    if ctx.now - ctx.delivery.due_at > STALE_AFTER:
        return Skip("too late for that day's tip; the next tip day brings one")
    member = ctx.member
    if not await _enrolled_in_active_cohort(ctx.session, member):
        return Skip("member is not enrolled in an open cohort")
    exclude = await _chosen_elsewhere(ctx.session, ctx.delivery)
    tip, first = await pick_tip(ctx.session, library, member, ctx.now, exclude=exclude)
    if tip is None:
        return Skip("member has every tip of the library already")
    # The after-send hook records this tip; a Core update, as the dispatcher writes its rows.
    await ctx.session.execute(
        update(Delivery)
        .where(Delivery.id == ctx.delivery.id)
        .values(payload={**ctx.delivery.payload, "tip_id": tip.id})
        .execution_options(synchronize_session=False)
    )
    message = tip_message(ctx.t, library, tip, member, first=first)
    # The progress check's baseline, skipped at the end of onboarding: offered again here.
    return await progress.with_baseline_offer(ctx.session, ctx.t, member, message)


async def tip_sent(session: AsyncSession, delivery: Delivery, now: datetime) -> None:
    """The tip reached the member: it counts as seen (never sent again)."""
    tip_id = (delivery.payload or {}).get("tip_id")
    if isinstance(tip_id, str):
        await record_receipt(session, delivery.member_id, tip_id, Via.DRIP, now)


def register_deliveries(registry: DeliveryRegistry, library: ContentLibrary) -> None:
    """Add the drip's planner, renderer and after-send hook (see bot/delivery/features.py)."""

    async def render(ctx: RenderContext) -> Rendered | Skip:
        return await render_tip(ctx, library)

    # The programme's length decides when a cohort ends (one tip a week after it).
    sessions = booster.programme_of_content(library)

    async def plan(session: AsyncSession, window: PlanWindow) -> list[Planned]:
        return await plan_tips(session, window, sessions)

    registry.add_planner("tips", plan)
    registry.add_renderer(TIP_KIND, render, tip_sent)
