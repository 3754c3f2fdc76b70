"""Quiet hours: when nothing scheduled may reach a member, in the wall time of their zone.

`QUIET_HOURS=21:00-08:00` is read as local wall-clock times in the member's zone (their active
cohort's, else `TIMEZONE`). The window may cross midnight. The dispatcher asks `quiet_until`
for every non-urgent delivery it is about to send: if the answer is an instant, the delivery
is held (its `due_at` moves there) instead of being sent.

Daylight-saving days are handled by computing in wall time and converting with zoneinfo:
a window that ends at 08:00 ends at 08:00 local time whether that night was 23, 24 or 25
hours long. A window end that does not exist on a spring-forward night (e.g. 02:30 in
Brussels on 2026-03-29) ends at the jump, the first instant the wall clock reads later
than it; an end that occurs twice on a fall-back night ends at its first occurrence.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, tzinfo

QuietWindow = tuple[time, time]


def in_window(local: time, window: QuietWindow) -> bool:
    """Whether a local wall time is inside [start, end) (the window may cross midnight)."""
    start, end = window
    if start == end:
        return False  # "21:00-21:00" is an empty window, not a whole day of silence.
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_until(instant: datetime, zone: tzinfo, window: QuietWindow | None) -> datetime | None:
    """The UTC instant when the quiet window containing `instant` ends, or None if not quiet."""
    if window is None:
        return None
    if instant.tzinfo is None:
        raise ValueError("quiet_until needs a timezone-aware instant")
    local = instant.astimezone(zone)
    wall = local.replace(tzinfo=None)
    if not in_window(wall.time(), window):
        return None
    start, end = window
    end_day: date = wall.date()
    if start > end and wall.time() >= start:
        end_day += timedelta(days=1)  # the evening part of a window that crosses midnight
    return first_instant_at(datetime.combine(end_day, end), zone)


def first_instant_at(wall: datetime, zone: tzinfo) -> datetime:
    """The first UTC instant at which the wall clock of `zone` reads `wall` or later."""
    earlier = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(earlier, zone) == wall:
        return earlier  # exists (at its first occurrence if it happens twice)
    # `wall` falls in a spring-forward gap: fold=0 maps it past the jump, fold=1 before it.
    # The answer is the jump itself; transitions fall on whole seconds, so bisect on seconds.
    bounds = sorted((earlier, wall.replace(tzinfo=zone, fold=1).astimezone(UTC)))
    low, high = math.floor(bounds[0].timestamp()), math.ceil(bounds[1].timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), zone) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _wall(instant: datetime, zone: tzinfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)
