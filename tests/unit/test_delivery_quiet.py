"""Quiet hours in the member's zone: inside or not, and when the window ends (DST included)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.delivery.quiet import first_instant_at, in_window, quiet_until

BRUSSELS = ZoneInfo("Europe/Brussels")
NIGHT = (time(21, 0), time(8, 0))  # the default QUIET_HOURS, across midnight
LUNCH = (time(12, 0), time(14, 0))  # a window within one day


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("local", "window", "inside"),
    [
        (time(20, 59), NIGHT, False),
        (time(21, 0), NIGHT, True),
        (time(23, 59), NIGHT, True),
        (time(0, 0), NIGHT, True),
        (time(7, 59), NIGHT, True),
        (time(8, 0), NIGHT, False),
        (time(11, 59), LUNCH, False),
        (time(12, 0), LUNCH, True),
        (time(14, 0), LUNCH, False),
        (time(10, 0), (time(10, 0), time(10, 0)), False),  # empty window
    ],
)
def test_in_window_is_start_inclusive_end_exclusive(
    local: time, window: tuple[time, time], inside: bool
) -> None:
    assert in_window(local, window) is inside


@pytest.mark.parametrize(
    ("instant", "window", "expected"),
    [
        # An ordinary winter evening: 22:00 in Brussels (UTC+1) -> 08:00 (07:00 UTC).
        (utc(2026, 11, 25, 21, 0), NIGHT, utc(2026, 11, 26, 7, 0)),
        # After midnight, the same window ends the same morning.
        (utc(2026, 11, 26, 2, 0), NIGHT, utc(2026, 11, 26, 7, 0)),
        # Daytime is not quiet.
        (utc(2026, 11, 25, 9, 0), NIGHT, None),
        (utc(2026, 11, 25, 19, 59), NIGHT, None),
        # Exactly at 21:00 local it is quiet; exactly at 08:00 local it is not.
        (utc(2026, 11, 25, 20, 0), NIGHT, utc(2026, 11, 26, 7, 0)),
        (utc(2026, 11, 26, 7, 0), NIGHT, None),
        # Summer: 23:00 CEST (UTC+2) -> 08:00 CEST (06:00 UTC).
        (utc(2026, 7, 1, 21, 0), NIGHT, utc(2026, 7, 2, 6, 0)),
        # Spring forward (night of 28-29 March 2026, 02:00 -> 03:00): the night is 10 hours
        # long, the window still ends at 08:00 local, which is now UTC+2.
        (utc(2026, 3, 28, 21, 0), NIGHT, utc(2026, 3, 29, 6, 0)),
        (utc(2026, 3, 29, 0, 30), NIGHT, utc(2026, 3, 29, 6, 0)),  # 01:30 CET
        (utc(2026, 3, 29, 1, 30), NIGHT, utc(2026, 3, 29, 6, 0)),  # 03:30 CEST
        # Fall back (night of 24-25 October 2026, 03:00 -> 02:00): a 25-hour day; 08:00 local
        # is now UTC+1.
        (utc(2026, 10, 24, 20, 0), NIGHT, utc(2026, 10, 25, 7, 0)),  # 22:00 CEST
        (utc(2026, 10, 25, 0, 30), NIGHT, utc(2026, 10, 25, 7, 0)),  # 02:30 CEST (first)
        (utc(2026, 10, 25, 1, 30), NIGHT, utc(2026, 10, 25, 7, 0)),  # 02:30 CET (second)
        # A window within one day.
        (utc(2026, 11, 25, 11, 30), LUNCH, utc(2026, 11, 25, 13, 0)),
        (utc(2026, 11, 25, 13, 0), LUNCH, None),
        # A window that ends in the spring-forward gap (02:30 does not exist on 29 March):
        # it ends at the jump, 03:00 CEST = 01:00 UTC.
        (utc(2026, 3, 28, 22, 0), (time(21, 0), time(2, 30)), utc(2026, 3, 29, 1, 0)),
        # A window that ends in the repeated hour (02:30 happens twice on 25 October): it ends
        # the first time, 02:30 CEST = 00:30 UTC.
        (utc(2026, 10, 24, 22, 0), (time(22, 0), time(2, 30)), utc(2026, 10, 25, 0, 30)),
        # A window that starts in the gap: 03:10 CEST is inside 02:30-06:00.
        (utc(2026, 3, 29, 1, 10), (time(2, 30), time(6, 0)), utc(2026, 3, 29, 4, 0)),
        # No window configured.
        (utc(2026, 11, 25, 22, 0), None, None),
    ],
)
def test_quiet_until_ends_at_local_wall_time(
    instant: datetime, window: tuple[time, time] | None, expected: datetime | None
) -> None:
    assert quiet_until(instant, BRUSSELS, window) == expected


def test_quiet_hours_follow_the_members_zone_not_brussels() -> None:
    # 21:30 UTC is 22:30 in Brussels (quiet) but 16:30 in Montreal (not quiet).
    instant = utc(2026, 11, 25, 21, 30)
    assert quiet_until(instant, BRUSSELS, NIGHT) == utc(2026, 11, 26, 7, 0)
    assert quiet_until(instant, ZoneInfo("America/Montreal"), NIGHT) is None


def test_first_instant_at_a_missing_wall_time_is_the_jump() -> None:
    jump = first_instant_at(datetime(2026, 3, 29, 2, 15), BRUSSELS)
    assert jump == utc(2026, 3, 29, 1, 0)
    assert jump.astimezone(BRUSSELS).hour == 3


def test_quiet_until_refuses_naive_instants() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        quiet_until(datetime(2026, 11, 25, 22, 0), BRUSSELS, NIGHT)
