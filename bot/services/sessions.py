"""Training sessions: planning, one-line parsing, editing, cancelling, check-in windows.

Sessions are numbered within their cohort in the order they are planned (a number never
changes, so "séance 3" means the same thing to everyone all along). Date and time are read
in the cohort's zone and stored in UTC.

Members who said yes (or wait on the list) are told of a move, a new place or a
cancellation through the outbox (kind `session_notice`, rendered by
bot/services/reminders.py at send time). A move bumps the session's revision, so that
reminders planned for the old time are told apart from the new ones and skipped.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.delivery.outbox import enqueue, skip_pending
from bot.delivery.registry import Planned
from bot.models import Cohort, Rsvp, RsvpAnswer, TrainingSession
from bot.services.audit import audit
from bot.services.validation import InvalidValue, clean_text

# An evening session lasts about this long (used for the calendar file and "current").
DEFAULT_DURATION = timedelta(hours=2)
PLACE_MAX = 200
THEME_MAX = 200
CAPACITY_MAX = 500
# Further ahead than this is almost surely a typo in the year.
HORIZON_DAYS = 400
# Kind of the outbox rows that tell members about a change (rendered in reminders.py).
NOTICE_KIND = "session_notice"
# A change this close to the start is sent even during quiet hours.
URGENT_NOTICE_WITHIN = timedelta(hours=12)


class ParseProblem(StrEnum):
    """Why a typed session (or one of its parts) cannot be planned."""

    EMPTY = "empty"
    MISSING_TIME = "missing_time"
    MISSING_PLACE = "missing_place"
    MISSING_THEME = "missing_theme"
    TOO_MANY_PARTS = "too_many_parts"
    BAD_DATE = "bad_date"  # not written like a date
    IMPOSSIBLE_DATE = "impossible_date"  # 31/02/2026
    BAD_TIME = "bad_time"  # 25:00, "soir"
    NONEXISTENT_TIME = "nonexistent_time"  # in the spring-forward gap
    PAST = "past"
    TOO_FAR = "too_far"
    TOO_LONG = "too_long"  # place or theme (value says which, limit how long)
    BAD_CAPACITY = "bad_capacity"


@dataclass(frozen=True)
class ParseError:
    """A precise reason with the offending value as typed, for the handler to explain."""

    problem: ParseProblem
    value: str = ""
    limit: int | None = None


@dataclass(frozen=True)
class SessionDraft:
    """What is needed to plan a session, checked and converted to UTC."""

    starts_at: datetime
    place: str
    theme: str
    theme_code: str | None = None
    capacity: int | None = None


# --- parsing ------------------------------------------------------------------------------

_DMY = re.compile(r"^(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4})$")
_YMD = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$")
_TIME = re.compile(r"^(?P<h>\d{1,2})\s*(?:[:hH.]\s*(?P<mi>\d{2})?)?$")


def parse_date(text: str) -> date | ParseError:
    """`02/12/2026`, `2/12/2026`, `02.12.2026`, `02-12-2026` or `2026-12-02`."""
    value = text.strip()
    match = _DMY.match(value) or _YMD.match(value)
    if not match:
        return ParseError(ParseProblem.BAD_DATE, value)
    try:
        return date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        return ParseError(ParseProblem.IMPOSSIBLE_DATE, value)


def parse_time(text: str) -> time | ParseError:
    """`19:00`, `19h00`, `19 h 00`, `19h`, `19.30` or `19`."""
    value = text.strip()
    if not value:
        return ParseError(ParseProblem.MISSING_TIME)
    match = _TIME.match(value)
    if not match:
        return ParseError(ParseProblem.BAD_TIME, value)
    hour, minute = int(match["h"]), int(match["mi"] or 0)
    if hour > 23 or minute > 59:
        return ParseError(ParseProblem.BAD_TIME, value)
    return time(hour, minute)


def local_start(day: date, at: time, zone: str) -> datetime | ParseError:
    """The UTC instant of a wall-clock time in `zone`; a time skipped by DST is refused."""
    tz = ZoneInfo(zone)
    local = datetime.combine(day, at, tzinfo=tz)
    instant = local.astimezone(UTC)
    # In the spring-forward gap the wall time does not exist: it does not round-trip.
    if instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return ParseError(ParseProblem.NONEXISTENT_TIME, at.strftime("%H:%M"))
    return instant


def check_start(starts_at: datetime, now: datetime, shown: str) -> ParseError | None:
    """A start must lie ahead, and not absurdly far (a mistyped year)."""
    if starts_at <= now:
        return ParseError(ParseProblem.PAST, shown)
    if starts_at - now > timedelta(days=HORIZON_DAYS):
        return ParseError(ParseProblem.TOO_FAR, shown)
    return None


def clean_place(text: str) -> str | ParseError:
    try:
        return clean_text(text, max_length=PLACE_MAX)
    except InvalidValue as exc:
        if exc.too_long:
            return ParseError(ParseProblem.TOO_LONG, "place", PLACE_MAX)
        return ParseError(ParseProblem.MISSING_PLACE)


def clean_theme(text: str) -> str | ParseError:
    try:
        return clean_text(text, max_length=THEME_MAX)
    except InvalidValue as exc:
        if exc.too_long:
            return ParseError(ParseProblem.TOO_LONG, "theme", THEME_MAX)
        return ParseError(ParseProblem.MISSING_THEME)


def parse_capacity(text: str) -> int | ParseError | None:
    """A number of seats; empty, "0" or "-" mean no limit."""
    value = text.strip()
    if value in ("", "-", "0"):
        return None
    if not value.isdigit() or not 0 < int(value) <= CAPACITY_MAX:
        return ParseError(ParseProblem.BAD_CAPACITY, value, CAPACITY_MAX)
    return int(value)


def parse_when(text: str, zone: str, now: datetime) -> datetime | ParseError:
    """`02/12/2026 19:00` (or `2026-12-02 19h`) in `zone` -> a future UTC instant."""
    value = text.strip()
    if not value:
        return ParseError(ParseProblem.EMPTY)
    day_text, _, time_text = value.partition(" ")
    day = parse_date(day_text)
    if isinstance(day, ParseError):
        return day
    at = parse_time(time_text)
    if isinstance(at, ParseError):
        return at
    instant = local_start(day, at, zone)
    if isinstance(instant, ParseError):
        return instant
    return check_start(instant, now, value) or instant


def parse_line(text: str, zone: str, now: datetime) -> SessionDraft | ParseError:
    """`02/12/2026 19:00 | Salle du Conseil | Vidéo et live [| 30]` -> a draft.

    The first problem found is returned, in the order a person reads the line.
    """
    if not text.strip():
        return ParseError(ParseProblem.EMPTY)
    parts = [part.strip() for part in text.split("|")]
    if len(parts) > 4:
        return ParseError(ParseProblem.TOO_MANY_PARTS, str(len(parts)))
    starts_at = parse_when(parts[0], zone, now)
    if isinstance(starts_at, ParseError):
        return starts_at
    place = clean_place(parts[1] if len(parts) > 1 else "")
    if isinstance(place, ParseError):
        return place
    theme = clean_theme(parts[2] if len(parts) > 2 else "")
    if isinstance(theme, ParseError):
        return theme
    capacity = parse_capacity(parts[3]) if len(parts) > 3 else None
    if isinstance(capacity, ParseError):
        return capacity
    return SessionDraft(starts_at=starts_at, place=place, theme=theme, capacity=capacity)


# --- queries ------------------------------------------------------------------------------


def new_checkin_token() -> str:
    """Unguessable, and fits a `/start checkin_<token>` payload ([A-Za-z0-9_-], ≤ 64)."""
    return secrets.token_urlsafe(16)


async def cohort_zone(tx: AsyncSession, cohort_id: int, default: str) -> str:
    zone = await tx.scalar(select(Cohort.timezone).where(Cohort.id == cohort_id))
    return zone or default


async def get_in_cohort(
    tx: AsyncSession, session_id: int, cohort_id: int | None
) -> TrainingSession | None:
    """The session if it belongs to `cohort_id` (ids from callback data are untrusted)."""
    if cohort_id is None:
        return None
    return await tx.scalar(
        select(TrainingSession).where(
            TrainingSession.id == session_id, TrainingSession.cohort_id == cohort_id
        )
    )


async def by_number(tx: AsyncSession, cohort_id: int, number: int) -> TrainingSession | None:
    return await tx.scalar(
        select(TrainingSession).where(
            TrainingSession.cohort_id == cohort_id, TrainingSession.number == number
        )
    )


async def upcoming(
    tx: AsyncSession, cohort_id: int, now: datetime, limit: int = 10
) -> list[TrainingSession]:
    """Sessions not cancelled and not yet over, soonest first."""
    rows = await tx.scalars(
        select(TrainingSession)
        .where(
            TrainingSession.cohort_id == cohort_id,
            TrainingSession.cancelled_at.is_(None),
            TrainingSession.ends_at > now,
        )
        .order_by(TrainingSession.starts_at, TrainingSession.id)
        .limit(limit)
    )
    return list(rows.all())


async def count_upcoming(tx: AsyncSession, cohort_id: int, now: datetime) -> int:
    total = await tx.scalar(
        select(func.count(TrainingSession.id)).where(
            TrainingSession.cohort_id == cohort_id,
            TrainingSession.cancelled_at.is_(None),
            TrainingSession.ends_at > now,
        )
    )
    return int(total or 0)


async def latest_started(tx: AsyncSession, cohort_id: int, now: datetime) -> TrainingSession | None:
    """The most recent session that has begun (the default of /presences)."""
    return await tx.scalar(
        select(TrainingSession)
        .where(
            TrainingSession.cohort_id == cohort_id,
            TrainingSession.cancelled_at.is_(None),
            TrainingSession.starts_at <= now,
        )
        .order_by(TrainingSession.starts_at.desc(), TrainingSession.id.desc())
        .limit(1)
    )


async def current_or_next(
    tx: AsyncSession, cohort_id: int, now: datetime, settings: Settings
) -> TrainingSession | None:
    """The session whose check-in is open now, else the next one (for /qr and /appel)."""
    close_after = timedelta(minutes=settings.checkin_close_minutes_after)
    open_before = timedelta(minutes=settings.checkin_open_minutes_before)
    candidates = await tx.scalars(
        select(TrainingSession)
        .where(
            TrainingSession.cohort_id == cohort_id,
            TrainingSession.cancelled_at.is_(None),
            TrainingSession.starts_at > now - close_after,
        )
        .order_by(TrainingSession.starts_at, TrainingSession.id)
        .limit(5)
    )
    listed = list(candidates.all())
    for candidate in listed:
        if candidate.starts_at - open_before <= now:
            return candidate
    return listed[0] if listed else None


async def recent_places(tx: AsyncSession, cohort_id: int, limit: int = 4) -> list[str]:
    """Places of the cohort's latest sessions, most recent first, without repeats."""
    rows = await tx.scalars(
        select(TrainingSession.place)
        .where(TrainingSession.cohort_id == cohort_id)
        .order_by(TrainingSession.created_at.desc(), TrainingSession.id.desc())
        .limit(limit * 5)
    )
    places: list[str] = []
    for place in rows.all():
        if place not in places:
            places.append(place)
    return places[:limit]


async def usual_time(tx: AsyncSession, cohort_id: int, zone: str) -> time | None:
    """The local start time of the cohort's latest session (offered first when planning)."""
    last = await tx.scalar(
        select(TrainingSession.starts_at)
        .where(TrainingSession.cohort_id == cohort_id)
        .order_by(TrainingSession.created_at.desc(), TrainingSession.id.desc())
        .limit(1)
    )
    return last.astimezone(ZoneInfo(zone)).time() if last else None


async def used_theme_codes(tx: AsyncSession, cohort_id: int) -> set[str]:
    rows = await tx.scalars(
        select(TrainingSession.theme_code).where(
            TrainingSession.cohort_id == cohort_id,
            TrainingSession.theme_code.is_not(None),
            TrainingSession.cancelled_at.is_(None),
        )
    )
    return {code for code in rows.all() if code}


async def rsvp_counts(tx: AsyncSession, session_id: int) -> dict[str, int]:
    """How many said yes, no, or wait on the list."""
    return (await rsvp_counts_of(tx, [session_id]))[session_id]


async def rsvp_counts_of(tx: AsyncSession, session_ids: list[int]) -> dict[int, dict[str, int]]:
    """`rsvp_counts` of several sessions in one query (every id gets its counts, zeros too)."""
    counts = {session_id: {answer.value: 0 for answer in RsvpAnswer} for session_id in session_ids}
    if not session_ids:
        return counts
    rows = await tx.execute(
        select(Rsvp.session_id, Rsvp.answer, func.count(Rsvp.id))
        .where(Rsvp.session_id.in_(session_ids))
        .group_by(Rsvp.session_id, Rsvp.answer)
    )
    for session_id, answer, count in rows.all():
        counts[session_id][answer] = int(count)
    return counts


def checkin_window(ts: TrainingSession, settings: Settings) -> tuple[datetime, datetime]:
    """From when to when the session's check-in link records attendance."""
    return (
        ts.starts_at - timedelta(minutes=settings.checkin_open_minutes_before),
        ts.starts_at + timedelta(minutes=settings.checkin_close_minutes_after),
    )


# --- changes ------------------------------------------------------------------------------


async def _next_number(tx: AsyncSession, cohort_id: int) -> int:
    highest = await tx.scalar(
        select(func.max(TrainingSession.number)).where(TrainingSession.cohort_id == cohort_id)
    )
    return int(highest or 0) + 1


async def plan_session(
    tx: AsyncSession,
    *,
    cohort_id: int,
    draft: SessionDraft,
    created_by_id: int | None,
    now: datetime,
) -> TrainingSession:
    """Create the next session of the cohort (numbered after the others)."""
    for _attempt in range(3):
        ts = TrainingSession(
            cohort_id=cohort_id,
            number=await _next_number(tx, cohort_id),
            starts_at=draft.starts_at,
            ends_at=draft.starts_at + DEFAULT_DURATION,
            place=draft.place,
            theme=draft.theme,
            theme_code=draft.theme_code,
            capacity=draft.capacity,
            checkin_token=new_checkin_token(),
            created_by_id=created_by_id,
            created_at=now,
            updated_at=now,
            revision=1,
        )
        try:
            # Two staff members planning at the same instant may pick the same number:
            # the unique (cohort, number) refuses the second, which simply takes the next.
            async with tx.begin_nested():
                tx.add(ts)
                await tx.flush()
        except IntegrityError:
            continue
        await audit(
            tx,
            created_by_id,
            cohort_id,
            "session.plan",
            {"session_id": ts.id, "number": ts.number, "starts_at": ts.starts_at.isoformat()},
            at=now,
        )
        return ts
    raise RuntimeError("could not number the new session")  # pragma: no cover


@dataclass(frozen=True)
class SessionChange:
    """What changed, and how many members are being told."""

    session: TrainingSession
    told: int
    recipients: list[int] = field(default_factory=list)


async def _told_members(tx: AsyncSession, session_id: int) -> list[int]:
    """Members who said yes or wait on the list: they are the ones a change concerns."""
    rows = await tx.scalars(
        select(Rsvp.member_id).where(
            Rsvp.session_id == session_id,
            Rsvp.member_id.is_not(None),
            Rsvp.answer.in_([RsvpAnswer.YES.value, RsvpAnswer.WAITLIST.value]),
        )
    )
    return [member_id for member_id in rows.all() if member_id is not None]


async def _notify(
    tx: AsyncSession,
    ts: TrainingSession,
    *,
    key: str,
    payload: dict[str, object],
    now: datetime,
    urgent_near: datetime,
) -> list[int]:
    recipients = await _told_members(tx, ts.id)
    urgent = urgent_near - now <= URGENT_NOTICE_WITHIN
    await enqueue(
        tx,
        [
            Planned(
                member_id=member_id,
                kind=NOTICE_KIND,
                dedup_key=key,
                due_at=now,
                payload={"session_id": ts.id, **payload},
                urgent=urgent,
            )
            for member_id in recipients
        ],
    )
    return recipients


def reminder_prefix(session_id: int, revision: int | None = None) -> str:
    """Dedup-key prefix of a session's reminders (of one revision, or all of them)."""
    base = f"reminder:session:{session_id}:"
    return base if revision is None else f"{base}{revision}:"


async def move_session(
    tx: AsyncSession,
    ts: TrainingSession,
    *,
    starts_at: datetime,
    actor_id: int | None,
    now: datetime,
) -> SessionChange:
    """Move a session: new revision, old reminders skipped, yes-sayers told."""
    old_start, old_revision = ts.starts_at, ts.revision
    duration = ts.ends_at - ts.starts_at
    ts.starts_at = starts_at
    ts.ends_at = starts_at + duration
    ts.revision = old_revision + 1
    ts.updated_at = now
    await skip_pending(
        tx,
        reason="session moved",
        dedup_prefix=reminder_prefix(ts.id, old_revision),
    )
    recipients = await _notify(
        tx,
        ts,
        key=f"notice:session:{ts.id}:moved:{ts.revision}",
        payload={
            "change": "moved",
            "revision": ts.revision,
            "old_starts_at": old_start.isoformat(),
        },
        now=now,
        urgent_near=min(old_start, starts_at),
    )
    await audit(
        tx,
        actor_id,
        ts.cohort_id,
        "session.move",
        {"session_id": ts.id, "from": old_start.isoformat(), "to": starts_at.isoformat()},
        at=now,
    )
    return SessionChange(ts, len(recipients), recipients)


async def change_place(
    tx: AsyncSession,
    ts: TrainingSession,
    *,
    place: str,
    actor_id: int | None,
    now: datetime,
) -> SessionChange:
    """A new place; reminders render at send time, so they will show it by themselves."""
    old_place = ts.place
    ts.place = place
    ts.updated_at = now
    recipients = await _notify(
        tx,
        ts,
        key=f"notice:session:{ts.id}:place:{int(now.timestamp())}",
        payload={"change": "place", "old_place": old_place, "place": place},
        now=now,
        urgent_near=ts.starts_at,
    )
    await audit(
        tx,
        actor_id,
        ts.cohort_id,
        "session.place",
        {"session_id": ts.id, "from": old_place, "to": place},
        at=now,
    )
    return SessionChange(ts, len(recipients), recipients)


async def cancel_session(
    tx: AsyncSession, ts: TrainingSession, *, actor_id: int | None, now: datetime
) -> SessionChange:
    """Cancel: pending reminders and follow-ups are skipped, yes-sayers told."""
    if ts.cancelled_at is not None:
        return SessionChange(ts, 0)
    ts.cancelled_at = now
    ts.updated_at = now
    for prefix in (reminder_prefix(ts.id), f"followup:session:{ts.id}:"):
        await skip_pending(tx, reason="session cancelled", dedup_prefix=prefix)
    recipients = await _notify(
        tx,
        ts,
        key=f"notice:session:{ts.id}:cancelled",
        payload={"change": "cancelled"},
        now=now,
        urgent_near=ts.starts_at,
    )
    await audit(
        tx,
        actor_id,
        ts.cohort_id,
        "session.cancel",
        {"session_id": ts.id, "number": ts.number},
        at=now,
    )
    return SessionChange(ts, len(recipients), recipients)


async def set_summary(
    tx: AsyncSession, ts: TrainingSession, *, text: str, actor_id: int | None, now: datetime
) -> str | ParseError:
    """The trainer's one-line summary, sent to those who said yes but could not come."""
    try:
        summary = clean_text(text, max_length=THEME_MAX * 2)
    except InvalidValue as exc:
        if exc.too_long:
            return ParseError(ParseProblem.TOO_LONG, "summary", THEME_MAX * 2)
        return ParseError(ParseProblem.EMPTY)
    ts.summary = summary
    ts.updated_at = now
    await audit(tx, actor_id, ts.cohort_id, "session.summary", {"session_id": ts.id}, at=now)
    return summary
