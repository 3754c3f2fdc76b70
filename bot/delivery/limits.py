"""Pacing the dispatcher so that Telegram never has to say 429, and retry pacing when it fails.

Telegram's published rules of thumb for a bot: about 30 messages per second overall, about
one per second in the same chat, at most 20 per minute in a group. The dispatcher keeps under
them by itself (`RateLimiter`), so that a 429 only happens when something outside our
control misbehaves; when one does happen, every send waits `retry_after` (Telegram counts
the flood per bot, not per chat).

The limiter is pure bookkeeping: it never sleeps, it answers "how long until ..." from an
injected monotonic time source, so tests drive it without waiting.

* Global rate: evenly spaced sends (a GCRA), `per_second` per second shared by the live
  dispatchers of the bot. Even spacing rather than bursts: the server counts arrivals, and a
  burst that leaves at the very end of our window can land in the server's next one. A send
  that was held up (the event loop was busy) may catch up `burst_tolerance` slots, but never
  beyond ⌈rate⌉ sends in any trailing second: the rate is kept under load, bursts stay small.
* Per chat: at least `chat_interval` seconds between two messages to the same chat
  (a little over one second, so that network jitter cannot bring two arrivals closer).
* Per group (negative chat id): at most `group_per_minute` in any `group_window` seconds.
* Pauses: `pause(seconds)` after a 429; `note_failure()` after a network error opens a
  breaker (1 s, 2 s, 4 s ... capped) so that an outage costs a probe now and then instead of
  an attempt for every delivery in the queue; `note_success()` closes it.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

TimeSource = Callable[[], float]


@dataclass(frozen=True)
class Limits:
    """How fast the dispatcher may send, and how it retries. Defaults suit Telegram's cloud API."""

    # Messages per second for the whole bot (Telegram: about 30; 29 stays under it).
    per_second: float = 29.0
    # How far ahead of its even schedule a send may go after a hiccup, in send intervals
    # (and never more than ⌈rate⌉ sends in a trailing `window` seconds).
    burst_tolerance: float = 1.0
    window: float = 1.0
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


class RateLimiter:
    """Bookkeeping of Telegram's limits for one dispatcher (see the module docstring)."""

    # Forget chats idle for longer than their interval once this many are remembered.
    _PRUNE_AT = 4096

    def __init__(self, limits: Limits | None = None, clock: TimeSource = time.monotonic) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        self._share = 1.0
        self._tat = 0.0  # theoretical arrival time of the next send (GCRA)
        self._recent: deque[float] = deque()  # send times within the trailing window
        self._chat_next: dict[int, float] = {}
        self._groups: dict[int, deque[float]] = {}
        self._paused_until = 0.0
        self._failures = 0

    # --- configuration ------------------------------------------------------------------
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
        return max(self._paused_until - self._clock(), 0.0)

    @property
    def window_cap(self) -> int:
        """Most sends of this dispatcher in any trailing window."""
        return max(1, math.ceil(self.limits.per_second * self._share * self.limits.window))

    def global_delay(self) -> float:
        """Seconds to wait before the next send may leave (0.0: now)."""
        now = self._clock()
        ready = max(self._tat - self.limits.burst_tolerance * self.interval, self._paused_until)
        recent = self._recent
        while recent and recent[0] <= now - self.limits.window:
            recent.popleft()
        if len(recent) >= self.window_cap:
            ready = max(ready, recent[-self.window_cap] + self.limits.window)
        return max(ready - now, 0.0)

    def pause(self, seconds: float) -> None:
        """Nothing is sent for `seconds` (never shortens a longer pause in progress)."""
        self._paused_until = max(self._paused_until, self._clock() + max(seconds, 0.0))
        # After a pause, restart the even schedule from its end rather than catching up.
        self._tat = max(self._tat, self._paused_until)

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

    def record(self, chat_id: int) -> None:
        """A message to `chat_id` leaves now: take its global slot and its chat slot."""
        now = self._clock()
        self._tat = max(self._tat, now) + self.interval
        self._recent.append(now)
        while len(self._recent) > self.window_cap:
            self._recent.popleft()
        self._chat_next[chat_id] = now + self.limits.chat_interval
        if chat_id < 0:
            window = self._groups.setdefault(chat_id, deque())
            window.append(now)
            while len(window) > self.limits.group_per_minute:
                window.popleft()
        if len(self._chat_next) > self._PRUNE_AT:
            self._prune(now)

    def _prune(self, now: float) -> None:
        self._chat_next = {chat: t for chat, t in self._chat_next.items() if t > now}
        self._groups = {
            chat: window
            for chat, window in self._groups.items()
            if window and window[-1] + self.limits.group_window > now
        }
