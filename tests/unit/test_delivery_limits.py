"""The dispatcher's pacing and the bot's message budget (a fake time source, nothing sleeps),
and the retry delays.

The budget's promise: however long each request takes (its way up and its way back, a busy
event loop on either side), no 31st message arrives at Telegram within any 1,000 ms, as long
as no request goes up and another's answer comes down in under `min_round_trip` in total.
The simulations below draw latencies and stalls at random and count arrivals as Telegram does.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import random
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.delivery.limits import Limits, RateLimiter, SendBudget, retry_delay


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def send_all(limiter: RateLimiter, clock: FakeTime, chats: list[int]) -> list[float]:
    """Send to `chats` in order as soon as the limiter allows (answers come back at once);
    returns the send times."""
    times = []
    for chat in chats:
        clock.now = max(clock.now + limiter.global_delay(), limiter.chat_ready_at(chat))
        while limiter.global_delay() > 0:
            clock.now += limiter.global_delay()
        limiter.finish(limiter.record(chat))
        times.append(clock.now)
    return times


def max_in_window(times: list[float], window: float) -> int:
    """The most events in any trailing `window` (t - window, t], as Telegram counts."""
    ordered = sorted(times)
    return max(
        bisect.bisect_right(ordered, t) - bisect.bisect_right(ordered, t - window) for t in ordered
    )


def test_global_rate_is_evenly_spaced_and_stays_under_the_limit() -> None:
    clock = FakeTime()
    limiter = RateLimiter(Limits(per_second=29), clock)
    times = send_all(limiter, clock, list(range(1, 301)))
    # From idle too: no burst, one every 1/29 s.
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(times)}
    assert gaps == {round(1 / 29, 6)}
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
        limiter.finish(limiter.record(n + 1))
        times.append(clock.now)
    return times


def test_catching_up_keeps_the_rate_but_never_exceeds_the_budget_in_a_trailing_second() -> None:
    clock = FakeTime()
    times = stalling_sender(RateLimiter(Limits(per_second=29), clock), clock, 600)
    assert max_in_window(times, 1.0) <= 30
    assert 599 / (times[-1] - times[0]) > 28.5
    # Without catching up, every stall is lost: the rate drops under 95 % of Telegram's.
    clock = FakeTime()
    strict = RateLimiter(Limits(per_second=29, burst_tolerance=0.0), clock)
    times = stalling_sender(strict, clock, 600)
    assert 599 / (times[-1] - times[0]) < 28.5


def test_no_more_than_thirty_start_in_any_trailing_second_even_after_a_long_stall() -> None:
    clock = FakeTime()
    limiter = RateLimiter(Limits(per_second=29, burst_tolerance=1000.0), clock)
    times = send_all(limiter, clock, list(range(1, 101)))
    clock.now += 3.0  # the event loop was stuck: 87 slots of the even schedule are gone
    times += send_all(limiter, clock, list(range(101, 401)))
    # The catch-up is immediate (a burst), but the budget holds it to 30 in any second.
    assert max_in_window(times, 1.0) == 30
    assert times[130] - times[100] < 1.05


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


# --- the budget under latency -------------------------------------------------------------------


@dataclass
class Network:
    """Each request: `up` before it arrives, `down` before its answer is back; both at least
    half of the shortest round trip (20 ms), the rest drawn, on either side, with stalls."""

    rng: random.Random
    low: float = 0.02
    high: float = 0.15
    uplink: float | None = None  # share of the round trip on the way up (None: random)
    stalls: float = 0.0  # probability of a 0-200 ms stall on one side of a request

    def draw(self) -> tuple[float, float]:
        round_trip = self.rng.uniform(self.low, self.high)
        share = self.rng.random() if self.uplink is None else self.uplink
        extra = round_trip - self.low
        up = self.low / 2 + extra * share
        down = self.low / 2 + extra * (1 - share)
        if self.rng.random() < self.stalls:
            if self.rng.random() < 0.5:
                up += self.rng.uniform(0, 0.2)
            else:
                down += self.rng.uniform(0, 0.2)
        return up, down


@dataclass
class Run:
    arrivals: list[float] = field(default_factory=list)
    reply_waits: list[float] = field(default_factory=list)
    outbox: int = 0
    replies: int = 0

    @property
    def rate(self) -> float:
        return (len(self.arrivals) - 1) / (max(self.arrivals) - min(self.arrivals))


def simulate(
    network: Network,
    *,
    outbox: int,
    replies_per_second: float = 0.0,
    limits: Limits | None = None,
    budget: SendBudget | None = None,
    in_flight: int = 16,
    reaction: float = 0.001,
) -> Run:
    """The dispatcher (up to `in_flight` sends at once, `reaction` late on each decision) and
    replies at random moments, all through one budget; returns what arrived when."""
    clock = FakeTime()
    start = clock.now
    limiter = RateLimiter(limits or Limits(chat_interval=0.0), clock, budget)
    shared = limiter.budget
    rng = network.rng
    run = Run()
    answers: list[tuple[float, int]] = []  # (time the answer is back, ticket)
    replies: list[float] = []  # moments a reply wants to leave
    moment = start
    while replies_per_second and len(replies) < replies_per_second * outbox / 25:
        moment += rng.expovariate(replies_per_second)
        replies.append(moment)
    waiting: list[float] = []
    flying = 0

    def leave(reply: bool) -> None:
        up, down = network.draw()
        ticket = shared.start(reply=True) if reply else limiter.record(run.outbox)
        run.arrivals.append(clock.now + up)
        heapq.heappush(answers, (clock.now + up + down, ticket))

    while run.outbox < outbox or answers or waiting or replies:
        while replies and replies[0] <= clock.now:
            waiting.append(replies.pop(0))
        shared.replies_waiting = len(waiting)
        while waiting and shared.reply_delay() == 0.0:
            run.reply_waits.append(clock.now - waiting.pop(0))
            shared.replies_waiting = len(waiting)
            leave(reply=True)
            run.replies += 1
        while run.outbox < outbox and flying < in_flight and limiter.global_delay() == 0.0:
            leave(reply=False)
            run.outbox += 1
            flying += 1
        wake = [answers[0][0]] if answers else []
        if replies:
            wake.append(replies[0])
        if waiting:
            wake.append(clock.now + shared.reply_delay())
        if run.outbox < outbox and flying < in_flight:
            wake.append(clock.now + limiter.global_delay() + reaction)
        clock.now = max(clock.now, min(wake))
        while answers and answers[0][0] <= clock.now:
            _, ticket = heapq.heappop(answers)
            if ticket in shared._flying and not shared._flying[ticket][1]:
                flying -= 1
            shared.finish(ticket)
    return run


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    uplink=st.sampled_from([None, 0.0, 0.5, 1.0]),
    stalls=st.sampled_from([0.0, 0.05, 0.3]),
    replies=st.sampled_from([0.0, 5.0, 20.0]),
)
def test_no_31st_message_arrives_in_any_second_whatever_the_latency(
    seed: int, uplink: float | None, stalls: float, replies: float
) -> None:
    network = Network(random.Random(seed), uplink=uplink, stalls=stalls)
    run = simulate(network, outbox=600, replies_per_second=replies)
    assert max_in_window(run.arrivals, 1.0) <= 30


def test_spacing_alone_lets_a_31st_arrive_when_latency_jitters() -> None:
    """Why the budget: the old pacing (29/s evenly, a catch-up slot) without it."""
    network = Network(random.Random(3), uplink=1.0)
    run = simulate(network, outbox=1500, budget=SendBudget(cap=10_000))
    assert max_in_window(run.arrivals, 1.0) > 30


def test_the_budget_sustains_over_93_percent_of_telegrams_limit_at_20_to_150_ms() -> None:
    network = Network(random.Random(5), uplink=0.5)
    run = simulate(network, outbox=3000)
    assert max_in_window(run.arrivals, 1.0) <= 30
    assert run.rate >= 0.93 * 30, run.rate


def test_replies_go_first_and_the_outbox_uses_what_they_leave() -> None:
    network = Network(random.Random(11), uplink=0.5)
    run = simulate(network, outbox=1500, replies_per_second=12.0)
    assert max_in_window(run.arrivals, 1.0) <= 30
    assert run.replies >= 600
    # Most replies never wait: the outbox leaves them a slot, and a reply waiting takes the
    # next one freed. Those that come in a bunch wait for a few slots to free (~28 a second).
    waits = sorted(run.reply_waits)
    assert waits[len(waits) // 2] == 0.0
    assert waits[len(waits) * 99 // 100] < 0.3
    # Together they keep the budget busy.
    assert run.rate >= 0.9 * 30, run.rate


def test_a_waiting_reply_takes_the_next_free_slot_before_the_outbox() -> None:
    clock = FakeTime()
    budget = SendBudget(clock=clock)
    # Telegram's rate, and any catch-up: only the budget holds the outbox back here.
    limits = Limits(per_second=30, burst_tolerance=1000, chat_interval=0.0)
    limiter = RateLimiter(limits, clock, budget)
    for n in range(30):
        budget.finish(limiter.record(n))
        clock.now += 0.01
    assert limiter.global_delay() > 0
    assert budget.reply_delay() > 0
    budget.replies_waiting = 1
    clock.now += budget.reply_delay()
    assert budget.count() == 29
    assert budget.reply_delay() == 0.0  # a slot is free: the reply's
    assert limiter.global_delay() > 0.0
    budget.replies_waiting = 0
    budget.start(reply=True)  # (its answer is slow: it counts until then)
    # People are being answered: the outbox now leaves a slot free for the next reply.
    clock.now += 1.5
    assert limiter.headroom() == Limits().reply_headroom == 1
    for _ in range(28):
        clock.now += limiter.global_delay()
        limiter.record(0)
    assert budget.count() == 29
    # One slot free, and it is for a reply: the outbox waits for its sends to come back.
    assert budget.outbox_delay(limiter.budget_limit, limiter.headroom()) > 0.0
    assert budget.reply_delay() == 0.0
    clock.now += 10.0
    assert limiter.headroom() == 0  # nobody answered for a while: the whole budget


def test_a_rate_above_telegrams_lifts_the_budget_for_the_outbox_and_the_replies() -> None:
    """Tests and benchmarks scale the outbox up against a sandbox without flood limits."""
    clock = FakeTime()
    budget = SendBudget(clock=clock)
    limiter = RateLimiter(Limits(per_second=500, chat_interval=0.0), clock, budget)
    for n in range(200):
        clock.now += limiter.global_delay()
        limiter.record(n)
    assert clock.now - 1000.0 < 0.5
    assert budget.reply_delay() == 0.0
    limiter.limits = Limits()
    assert budget.limit == 30
    assert budget.reply_delay() > 0.0


def test_a_message_counts_one_window_past_its_answer_less_the_shortest_round_trip() -> None:
    clock = FakeTime()
    budget = SendBudget(cap=1, clock=clock)
    ticket = budget.start(reply=False)
    clock.now += 0.05
    assert budget.reply_delay() > 0  # in flight: it may arrive at any moment
    budget.finish(ticket)
    # 20 ms is the most taken off, and never more than 0.9 x the shortest round trip seen.
    assert budget.allowance() == pytest.approx(0.02)
    assert budget.reply_delay() == pytest.approx(1.0 - 0.02)
    clock.now += 1.0
    fast = budget.start(reply=False)
    clock.now += 0.01
    budget.finish(fast)
    assert budget.allowance() == pytest.approx(0.009)
    # No answer (a network error, a timeout): it may have arrived up to now, a full window.
    clock.now += 1.0
    lost = budget.start(reply=False)
    clock.now += 0.3
    budget.finish(lost, answered=False)
    assert budget.reply_delay() == pytest.approx(1.0)


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
