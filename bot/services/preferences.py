"""A merchant's preferences: the days and the time of their tips, and the pause.

(The deployment's configuration is `Settings`; what a member chooses for themself is a
preference.)

`/reglages` (handlers/settings.py) changes these with buttons only. The values are read by
the tip planner (bot/services/tips.py) and, for days and time, by the objectives' check-ins.

- Tip days are stored as `Member.tip_days`, e.g. "tue,fri" (codes of `bot.config.WEEKDAYS`,
  always written in week order). At least one day stays on: stopping everything is what
  the pause is for, and a member with no day would silently never hear from the bot again.
- The tip time is one of `TIME_CHOICES` outside the quiet hours (the dispatcher would hold a
  tip sent in them anyway; offering such a time would only promise something we do not do).
- The pause (`Member.paused`) stops everything scheduled for the member (the dispatcher skips
  their deliveries and the planners leave them out) until they resume.

Each change resets the member's stored due times (bot/services/due_times.py): the next planner
tick works out their tips and check-ins from the new rhythm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import WEEKDAYS
from bot.delivery.quiet import QuietWindow, in_window
from bot.models import Member
from bot.services import due_times

# The times offered as buttons (those inside the quiet hours are left out).
TIME_CHOICES: tuple[time, ...] = (time(8, 0), time(9, 30), time(12, 0), time(14, 0), time(18, 0))


class PreferenceChange(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    LAST_DAY = "last_day"  # refusing to switch off the only day left
    NOT_OFFERED = "not_offered"  # a time (or day) that no button offers: forged callback data


@dataclass(frozen=True)
class TipPreferences:
    """What `/reglages` shows: days in week order, the time, the pause."""

    days: tuple[str, ...]
    at: time
    paused: bool


def parse_days(text: str | None) -> tuple[str, ...]:
    """Codes of "tue,fri" in week order; unknown parts are dropped."""
    given = {part.strip().lower()[:3] for part in (text or "").split(",") if part.strip()}
    return tuple(day for day in WEEKDAYS if day in given)


def offered_times(quiet: QuietWindow | None) -> tuple[time, ...]:
    return tuple(choice for choice in TIME_CHOICES if quiet is None or not in_window(choice, quiet))


def preferences_of(member: Member) -> TipPreferences:
    return TipPreferences(
        days=parse_days(member.tip_days), at=member.tip_time, paused=member.paused
    )


async def _member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None:
        raise LookupError(f"member {member_id} not found")
    return member


async def get_preferences(session: AsyncSession, member_id: int) -> TipPreferences:
    return preferences_of(await _member(session, member_id))


async def toggle_day(
    session: AsyncSession, member_id: int, day: str
) -> tuple[PreferenceChange, TipPreferences]:
    """Switch one tip day on or off (never the last one)."""
    member = await _member(session, member_id)
    if day not in WEEKDAYS:
        return PreferenceChange.NOT_OFFERED, preferences_of(member)
    days = set(parse_days(member.tip_days))
    if day in days:
        if len(days) == 1:
            return PreferenceChange.LAST_DAY, preferences_of(member)
        days.discard(day)
    else:
        days.add(day)
    member.tip_days = ",".join(d for d in WEEKDAYS if d in days)
    await due_times.rhythm_changed(session, member)
    await session.flush()
    return PreferenceChange.CHANGED, preferences_of(member)


async def set_time(
    session: AsyncSession, member_id: int, at: time, quiet: QuietWindow | None
) -> tuple[PreferenceChange, TipPreferences]:
    """Set the tip time to one of the offered choices."""
    member = await _member(session, member_id)
    if at not in offered_times(quiet):
        return PreferenceChange.NOT_OFFERED, preferences_of(member)
    if member.tip_time == at:
        return PreferenceChange.UNCHANGED, preferences_of(member)
    member.tip_time = at
    await due_times.rhythm_changed(session, member)
    await session.flush()
    return PreferenceChange.CHANGED, preferences_of(member)


async def set_paused(
    session: AsyncSession, member_id: int, paused: bool
) -> tuple[PreferenceChange, TipPreferences]:
    """Pause or resume everything scheduled for the member."""
    member = await _member(session, member_id)
    if member.paused == paused:
        return PreferenceChange.UNCHANGED, preferences_of(member)
    member.paused = paused
    await due_times.rhythm_changed(session, member)
    await session.flush()
    return PreferenceChange.CHANGED, preferences_of(member)
