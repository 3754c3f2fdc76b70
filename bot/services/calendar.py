"""Calendar files: one .ics event per session, for "add to my calendar".

The event carries the session's UTC start and end (every calendar application shows them in
its own zone), a stable UID per session so that re-importing after a move updates the same
event, and SEQUENCE = the session's revision.
"""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

from bot.models import TrainingSession

PRODID = "-//Relais//Sessions//FR"


def session_uid(ts: TrainingSession, domain: str) -> str:
    return f"relais-session-{ts.id}@{domain}"


def session_ics(
    ts: TrainingSession,
    *,
    title: str,
    description: str,
    now: datetime,
    domain: str = "relais.bot",
) -> bytes:
    """The .ics file of one session; `title` and `description` come translated."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if ts.cancelled_at else "PUBLISH")
    event = Event()
    event.add("uid", session_uid(ts, domain))
    event.add("dtstamp", now)
    event.add("dtstart", ts.starts_at)
    event.add("dtend", ts.ends_at)
    event.add("summary", title)
    event.add("location", ts.place)
    event.add("description", description)
    event.add("sequence", ts.revision)
    event.add("status", "CANCELLED" if ts.cancelled_at else "CONFIRMED")
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def filename(ts: TrainingSession) -> str:
    return f"seance-{ts.number}.ics"
