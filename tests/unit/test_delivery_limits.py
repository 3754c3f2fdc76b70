"""The dispatcher's pacing (a fake time source, nothing sleeps) and its retry delays."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.delivery.limits import Limits, RateLimiter, retry_delay


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def send_all(limiter: RateLimiter, clock: FakeTime, chats: list[int]) -> list[float]:
    """Send to `chats` in order as soon as the limiter allows; returns the send times."""
    times = []
    for chat in chats:
        clock.now = max(clock.now + limiter.global_delay(), limiter.chat_ready_at(chat))
        assert limiter.global_delay() == 0.0
        limiter.record(chat)
        times.append(clock.now)
    return times


def max_in_window(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


def test_global_rate_is_evenly_spaced_and_stays_under_the_limit() -> None:
    clock = FakeTime()
    limiter = RateLimiter(Limits(per_second=29), clock)
    times = send_all(limiter, clock, list(range(1, 301)))
    assert max_in_window(times, 1.0) <= 29
    elapsed = times[-1] - times[0]
    assert 299 / elapsed == pytest.approx(29, rel=0.01)


def test_a_late_sender_catches_up_two_slots_at_most() -> None:
    clock = FakeTime()
    limiter = RateLimiter(Limits(per_second=10, burst_tolerance=2.0), clock)
    limiter.record(1)
    clock.now += 0.5  # the next slot was at +0.1: we are four slots late
    sent = 0
    while limiter.global_delay() == 0.0:
        limiter.record(100 + sent)
        sent += 1
    # The one on time, then two more to catch up; the rest of the lost time is lost.
    assert sent == 3
    assert limiter.global_delay() == pytest.approx(0.1)


def stalling_sender(limiter: RateLimiter, clock: FakeTime, count: int) -> list[float]:
    """Send `count` messages as soon as allowed, stalling 30 ms every 10th (a busy loop)."""
    times: list[float] = []
    for n in range(count):
        clock.now += limiter.global_delay() + (0.03 if n % 10 == 0 else 0.0)
        while limiter.global_delay() > 0:
            clock.now += limiter.global_delay()
        limiter.record(n + 1)
        times.append(clock.now)
    return times


def test_catching_up_keeps_the_rate_but_never_exceeds_it_in_a_trailing_second() -> None:
    clock = FakeTime()
    times = stalling_sender(RateLimiter(Limits(per_second=29), clock), clock, 600)
    assert max_in_window(times, 1.0) <= 29
    assert 599 / (times[-1] - times[0]) > 28.5
    # Without catching up, every stall is lost: the rate drops under 95 % of Telegram's.
    clock = FakeTime()
    strict = RateLimiter(Limits(per_second=29, burst_tolerance=0.0), clock)
    times = stalling_sender(strict, clock, 600)
    assert 599 / (times[-1] - times[0]) < 28.5


def test_same_chat_waits_its_interval_while_others_go() -> None:
    clock = FakeTime()
    limiter = RateLimiter(Limits(per_second=1000, chat_interval=1.05), clock)
    limiter.record(42)
    assert limiter.chat_ready_at(42) == pytest.approx(clock.now + 1.05)
    assert limiter.chat_ready_at(43) <= clock.now


def test_group_gets_at_most_twenty_per_minute() -> None:
    clock = FakeTime()
    limits = Limits(per_second=1000, chat_interval=1.05, group_per_minute=20, group_window=61)
    limiter = RateLimiter(limits, clock)
    times = send_all(limiter, clock, [-100] * 45)
    assert max_in_window(times, 60.0) <= 20
    # The 21st waits for the first to leave the window, not for a fixed 3 s spacing.
    assert times[19] - times[0] == pytest.approx(19 * 1.05)
    assert times[20] - times[0] == pytest.approx(61.0)


def test_pause_stops_everyone_and_never_shortens() -> None:
    clock = FakeTime()
    limiter = RateLimiter(Limits(per_second=29), clock)
    limiter.pause(5)
    limiter.pause(2)
    assert limiter.paused_for() == pytest.approx(5)
    assert limiter.global_delay() == pytest.approx(5)
    clock.now += 5
    assert limiter.global_delay() == 0.0


def test_outage_breaker_doubles_then_resets_on_success() -> None:
    clock = FakeTime()
    limiter = RateLimiter(Limits(outage_pause=1.0, outage_pause_max=8.0), clock)
    pauses = [limiter.note_failure() for _ in range(6)]
    assert pauses == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    limiter.note_success()
    clock.now += 100
    assert limiter.note_failure() == 1.0


def test_share_splits_the_rate_between_dispatchers() -> None:
    clock = FakeTime()
    limiter = RateLimiter(Limits(per_second=29), clock)
    limiter.set_share(2)
    times = send_all(limiter, clock, list(range(1, 1001)))
    assert 999 / (times[-1] - times[0]) == pytest.approx(14.5, rel=0.01)
    assert max_in_window(times, 1.0) <= 15


def test_idle_chats_are_forgotten() -> None:
    clock = FakeTime()
    limiter = RateLimiter(Limits(per_second=1e9, chat_interval=1.0), clock)
    for chat in range(1, 5000):
        limiter.record(chat)
        clock.now += 0.001
    clock.now += 10
    for chat in range(10_000, 10_000 + RateLimiter._PRUNE_AT):
        limiter.record(chat)
    assert len(limiter._chat_next) <= RateLimiter._PRUNE_AT


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [
        (1, timedelta(seconds=30)),
        (2, timedelta(minutes=1)),
        (3, timedelta(minutes=2)),
        (4, timedelta(minutes=4)),
        (7, timedelta(minutes=30)),  # capped
        (500, timedelta(minutes=30)),
    ],
)
def test_retry_delay_doubles_up_to_a_cap(attempts: int, expected: timedelta) -> None:
    assert retry_delay(attempts, Limits()) == expected
