"""Pacing sends so that Telegram never has to say 429, and retry pacing when it fails.

Telegram's published rules of thumb for a bot: about 30 messages per second overall, about
one per second in the same chat, at most 20 per minute in a group. We take the safe reading:
sent AND edited messages share one bot-wide budget of 30 in any second (callback answers and
chat actions are free). Two parts keep under it, both pure bookkeeping that never sleeps and
read an injected monotonic time source, so tests drive them without waiting:

`SendBudget`: the bot's messages of the trailing second, shared in-process by the replies to
people (bot/ratelimit.py, served first) and the outbox dispatcher (what the replies leave).
Telegram counts a message when it *arrives*, and we never know that moment: we only know
that it arrived after we started the request and before its answer came back. So a message
counts in the budget from its start until one window after its answer, less the shortest
possible round trip `m`; a new one may start only while fewer than 30 count. Why that is
enough, whatever the latency of each request: take any 31 arrivals within one second and `k`
the last of them to start. Each other `j` arrived after `k`'s arrival minus one second; had
its answer come back at `r_j` with `r_j + 1 - m <= s_k`, then `k` would arrive at least
`s_k + up_min >= r_j + 1 - m + up_min` and `j` at most `r_j - down_min`: one second apart or
more, since `up_min + down_min >= m`. So all 30 others still counted when `k` started, and
`k` could not start. The only assumption is that no request reaches Telegram and has its
answer back in under `m` in total (one way up plus one way down, 20 ms from Europe; we also
never use more than 0.9 x the shortest round trip measured). Network jitter, a busy event
loop, a slow answer: all only lengthen a round trip, never break the bound. The cost is
that a message holds its slot for `1 s + round trip - m` (1.07 s at 20-150 ms of latency):
about 28 messages/s.

`RateLimiter`: the dispatcher's own pacing on top of the budget.

* Global rate: evenly spaced sends (a GCRA), `per_second` per second shared by the live
  dispatchers of the bot, so that the budget's slots are used smoothly rather than in bursts.
  A send that was held up (the event loop was busy, or the budget freed its slots unevenly)
  may catch up `burst_tolerance` slots: the budget, not the spacing, is what guarantees the
  limit, so catching up is safe. After idling or a pause the schedule starts afresh, without
  a burst.
* The outbox yields to replies: while people are being answered (a reply in the last
  `reply_memory` seconds) it leaves `reply_headroom` slots of the budget free, and a reply
  waiting for a slot is served before the outbox's next send.
* Per chat: at least `chat_interval` seconds between two messages to the same chat
  (a little over one second, so that network jitter cannot bring two arrivals closer).
* Per group (negative chat id): at most `group_per_minute` in any `group_window` seconds.
* Pauses: `pause(seconds)` after a 429 (shared: a reply's 429 pauses the outbox too);
  `note_failure()` after a network error opens a breaker (1 s, 2 s, 4 s ... capped) so that
  an outage costs a probe now and then instead of an attempt for every delivery in the
  queue; `note_success()` closes it.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

TimeSource = Callable[[], float]

# Telegram's budget: sent and edited messages of one bot in any trailing second.
TELEGRAM_MESSAGES_PER_SECOND = 30
# Shortest possible request-up plus answer-down time to Telegram (see the module docstring).
MIN_ROUND_TRIP = 0.02
# How often to look again when only requests in flight (no known expiry) fill the budget.
IN_FLIGHT_POLL = 0.005


@dataclass(frozen=True)
class Limits:
    """How fast the dispatcher may send, and how it retries. Defaults suit Telegram's cloud API."""

    # Evenly spaced sends per second for the whole bot. The budget (30 in any second, each
    # send holding its slot one second plus its round trip) is the hard limit; this only
    # spreads the sends. Above Telegram's 30 (tests against a sandbox without flood limits)
    # it also lifts the budget's cap for the outbox.
    per_second: float = 29.0
    # How far ahead of its even schedule a send may go after a hiccup, in send intervals:
    # with latency the budget frees slots unevenly, and a catch-up of a few keeps them used.
    burst_tolerance: float = 5.0
    window: float = 1.0
    # Budget slots the outbox leaves free while replies flow (a reply in the last
    # `reply_memory` seconds): most replies then never wait.
    reply_headroom: int = 1
    reply_memory: float = 2.0
    # Seconds between two messages to the same chat.
    chat_interval: float = 1.05
    # Messages per `group_window` seconds to one group chat.
    group_per_minute: int = 20
    group_window: float = 61.0
    # Breaker after network errors and 5xx: first pause, doubled each time, up to the max.
    outage_pause: float = 1.0
    outage_pause_max: float = 30.0
    # Deliveries that fail with a network error are retried this many times in total ...
    max_attempts: int = 5
    # ... after `retry_base` x 2^(attempt-1), at most `retry_max`.
    retry_base: timedelta = timedelta(seconds=30)
    retry_max: timedelta = timedelta(minutes=30)
    # Read timeout of a send (None: the bot's own request settings).
    send_timeout: float | None = None


def retry_delay(attempts: int, limits: Limits) -> timedelta:
    """How long to wait before another try, after `attempts` failed tries (1, 2, ...)."""
    exponent = max(attempts - 1, 0)
    # Cap the exponent before computing: 2**1000 seconds is not a timedelta.
    if exponent >= 32:
        return limits.retry_max
    return min(limits.retry_base * (1 << exponent), limits.retry_max)


class SendBudget:
    """The messages (sent and edited) of one bot in the trailing window, shared in-process.

    A message counts from `start()` until `finish()` plus one window less the shortest round
    trip (see the module docstring for why no 31st can then arrive in any second). Replies
    may use the whole budget; the outbox asks for `outbox_delay(limit, headroom)` and leaves
    room to the replies waiting or likely to come.
    """

    # Round trips remembered to know the shortest one.
    _RTT_SAMPLES = 256

    def __init__(
        self,
        cap: int = TELEGRAM_MESSAGES_PER_SECOND,
        *,
        window: float = 1.0,
        min_round_trip: float = MIN_ROUND_TRIP,
        clock: TimeSource = time.monotonic,
    ) -> None:
        self.cap = cap
        # Raised by a dispatcher configured above Telegram's rate (tests and benchmarks against
        # a sandbox without flood limits): replies then never wait behind its scaled-up sends.
        self.lifted_to = cap
        self.window = window
        self.min_round_trip = min_round_trip
        self._clock = clock
        self._tickets = itertools.count(1)
        self._flying: dict[int, tuple[float, bool]] = {}  # ticket -> (start, reply)
        self._expiries: list[float] = []  # heap: when each answered message stops counting
        self._rtts: deque[float] = deque(maxlen=self._RTT_SAMPLES)
        self._shortest_rtt = math.inf
        self._paused_until = 0.0
        self._last_reply = -math.inf
        #: replies waiting for a slot: the outbox lets them go first
        self.replies_waiting = 0
        #: counters for benchmarks and logs
        self.started_replies = 0
        self.started_outbox = 0
        self.answered = 0
        self.round_trips = 0.0  # their sum, in seconds
        self.replies_held = 0  # replies that waited for a slot
        self.reply_wait = 0.0  # how long, in all

    def now(self) -> float:
        return self._clock()

    def summary(self) -> str:
        """One line for the logs: what went through the budget."""
        mean_rtt = self.round_trips / self.answered if self.answered else 0.0
        held = self.reply_wait / self.replies_held if self.replies_held else 0.0
        return (
            f"{self.started_replies} replies and {self.started_outbox} outbox messages, "
            f"mean round trip {mean_rtt * 1000:.0f} ms; {self.replies_held} replies waited "
            f"for a slot ({held * 1000:.0f} ms on average)"
        )

    # --- counting -----------------------------------------------------------------------------
    def count(self) -> int:
        """Messages that may still arrive within a window of one starting now."""
        now = self._clock()
        expiries = self._expiries
        while expiries and expiries[0] <= now:
            heapq.heappop(expiries)
        return len(self._flying) + len(expiries)

    @property
    def in_flight(self) -> int:
        return len(self._flying)

    def allowance(self) -> float:
        """The `m` of the module docstring: never more than 0.9 x the shortest round trip seen."""
        if not self._rtts:
            return 0.0
        return max(0.0, min(self.min_round_trip, 0.9 * self._shortest_rtt))

    def start(self, *, reply: bool) -> int:
        """A message leaves now; returns the ticket to `finish` it with."""
        now = self._clock()
        ticket = next(self._tickets)
        self._flying[ticket] = (now, reply)
        if reply:
            self._last_reply = now
            self.started_replies += 1
        else:
            self.started_outbox += 1
        return ticket

    def finish(self, ticket: int, *, answered: bool = True) -> None:
        """Its answer came back (`answered`), or the request failed without one (a network
        error or a timeout: it may have arrived up to now, so it counts one full window)."""
        entry = self._flying.pop(ticket, None)
        if entry is None:
            return
        now = self._clock()
        if answered:
            self._note_rtt(now - entry[0])
            expiry = now + self.window - self.allowance()
        else:
            expiry = now + self.window
        heapq.heappush(self._expiries, expiry)

    def _note_rtt(self, rtt: float) -> None:
        self.answered += 1
        self.round_trips += rtt
        rtts = self._rtts
        dropped = rtts[0] if len(rtts) == rtts.maxlen else None
        rtts.append(rtt)
        if rtt <= self._shortest_rtt:
            self._shortest_rtt = rtt
        elif dropped is not None and dropped <= self._shortest_rtt:
            self._shortest_rtt = min(rtts)

    # --- who may start ----------------------------------------------------------------------
    def replies_recently(self, memory: float) -> bool:
        return self._clock() - self._last_reply < memory

    @property
    def limit(self) -> int:
        return max(self.cap, self.lifted_to)

    def reply_delay(self) -> float:
        """Seconds before a reply may start (0.0: now). Replies may use the whole budget."""
        return self._delay(self.limit)

    def outbox_delay(self, limit: int, headroom: int = 0) -> float:
        """Seconds before an outbox send may start: `limit` slots at most (its share of the
        budget), less `headroom` and one per reply waiting."""
        allowed = max(0, min(limit, self.limit) - headroom - self.replies_waiting)
        return max(self.paused_for(), self._delay(allowed))

    def _delay(self, allowed: int) -> float:
        excess = self.count() - allowed + 1  # messages that must stop counting first
        if excess <= 0:
            return 0.0
        expiries = self._expiries
        if excess > len(expiries):
            return IN_FLIGHT_POLL  # requests in flight must come back first
        return max(heapq.nsmallest(excess, expiries)[-1] - self._clock(), 0.0)

    # --- pauses (429) -------------------------------------------------------------------------
    def pause(self, seconds: float) -> None:
        """Telegram said 429 for this bot: the outbox waits `seconds` (never shortens a pause)."""
        self._paused_until = max(self._paused_until, self._clock() + max(seconds, 0.0))

    def paused_for(self) -> float:
        return max(self._paused_until - self._clock(), 0.0)


class RateLimiter:
    """Bookkeeping of Telegram's limits for one dispatcher (see the module docstring)."""

    # Forget chats idle for longer than their interval once this many are remembered.
    _PRUNE_AT = 4096

    def __init__(
        self,
        limits: Limits | None = None,
        clock: TimeSource = time.monotonic,
        budget: SendBudget | None = None,
    ) -> None:
        limits = limits or Limits()
        self._clock = clock
        self.budget = budget or SendBudget(window=limits.window, clock=clock)
        self.limits = limits
        self._share = 1.0
        self._tat = 0.0  # theoretical arrival time of the next send (GCRA)
        self._chat_next: dict[int, float] = {}
        self._groups: dict[int, deque[float]] = {}
        self._paused_until = 0.0
        self._failures = 0

    # --- configuration ------------------------------------------------------------------
    @property
    def limits(self) -> Limits:
        return self._limits

    @limits.setter
    def limits(self, value: Limits) -> None:
        self._limits = value
        # A rate above Telegram's (a sandbox without flood limits) lifts the budget with it.
        self.budget.lifted_to = math.ceil(value.per_second * value.window)

    @property
    def share(self) -> float:
        return self._share

    def set_share(self, dispatchers: int) -> None:
        """Several dispatchers on one bot (PostgreSQL) split the global rate between them."""
        self._share = 1.0 / max(dispatchers, 1)

    @property
    def interval(self) -> float:
        """Seconds between two sends of this dispatcher."""
        return 1.0 / (self.limits.per_second * self._share)

    def now(self) -> float:
        return self._clock()

    # --- global rate and pauses -----------------------------------------------------------
    def paused_for(self) -> float:
        """Seconds left of a pause (429 or outage breaker), 0.0 if none."""
        return max(self._paused_until - self._clock(), self.budget.paused_for(), 0.0)

    @property
    def budget_limit(self) -> int:
        """Budget slots this dispatcher may hold: the bot's, or more if `per_second` asks for
        more (a sandbox without flood limits), split between the live dispatchers."""
        return max(1, math.floor(self.budget.limit * self._share))

    def headroom(self) -> int:
        """Slots left to the replies: some while people are being answered, none otherwise."""
        if self.budget.replies_recently(self.limits.reply_memory):
            return self.limits.reply_headroom
        return 0

    @property
    def _tolerance(self) -> float:
        return self.limits.burst_tolerance * self.interval

    def _restarts(self, now: float) -> bool:
        """Whether the even schedule starts afresh: idle (or stalled) for longer than a
        catch-up could make good. Catching up is for hiccups while busy, not after idling."""
        return now - self._tat > self._tolerance

    def global_delay(self) -> float:
        """Seconds to wait before the next send may leave (0.0: now)."""
        now = self._clock()
        ready = now if self._restarts(now) else self._tat - self._tolerance
        delay = max(max(ready, self._paused_until) - now, 0.0)
        if delay > 0.0:
            return delay
        return self.budget.outbox_delay(self.budget_limit, self.headroom())

    def pause(self, seconds: float) -> None:
        """Nothing is sent for `seconds` (never shortens a longer pause in progress)."""
        self._paused_until = max(self._paused_until, self._clock() + max(seconds, 0.0))
        # After a pause, restart the even schedule from its end rather than catching up.
        self._tat = max(self._tat, self._paused_until + self._tolerance)

    def note_failure(self) -> float:
        """A send failed for network reasons: pause everything, longer each time in a row."""
        self._failures += 1
        pause = min(
            self.limits.outage_pause * (1 << min(self._failures - 1, 16)),
            self.limits.outage_pause_max,
        )
        self.pause(pause)
        return pause

    def note_success(self) -> None:
        self._failures = 0

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    # --- per chat -------------------------------------------------------------------------
    def chat_ready_at(self, chat_id: int) -> float:
        """The monotonic time from which `chat_id` may receive another message."""
        ready = self._chat_next.get(chat_id, 0.0)
        window = self._groups.get(chat_id)
        if window is not None and len(window) >= self.limits.group_per_minute:
            ready = max(ready, window[0] + self.limits.group_window)
        return ready

    def record(self, chat_id: int) -> int:
        """A message to `chat_id` leaves now: take its global slot, its budget slot and its chat
        slot. Returns the budget ticket: `finish(ticket)` when its answer is back."""
        now = self._clock()
        if self._restarts(now):
            self._tat = now + self._tolerance + self.interval
        else:
            self._tat = max(self._tat, now) + self.interval
        ticket = self.budget.start(reply=False)
        self._chat_next[chat_id] = now + self.limits.chat_interval
        if chat_id < 0:
            window = self._groups.setdefault(chat_id, deque())
            window.append(now)
            while len(window) > self.limits.group_per_minute:
                window.popleft()
        if len(self._chat_next) > self._PRUNE_AT:
            self._prune(now)
        return ticket

    def finish(self, ticket: int, *, answered: bool = True) -> None:
        self.budget.finish(ticket, answered=answered)

    def _prune(self, now: float) -> None:
        self._chat_next = {chat: t for chat, t in self._chat_next.items() if t > now}
        self._groups = {
            chat: window
            for chat, window in self._groups.items()
            if window and window[-1] + self.limits.group_window > now
        }
