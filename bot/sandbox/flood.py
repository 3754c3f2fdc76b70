"""Telegram's flood limits, as the sandbox Bot API enforces them.

Telegram does not publish exact algorithms, only rules of thumb (https://core.telegram.org/bots/faq
#my-bot-is-hitting-limits-how-do-i-avoid-this): about one message per second in a chat (short bursts
tolerated), at most 20 messages per minute in a group, about 30 messages per second overall. The
sandbox models them as:

* a token bucket per chat (private chats and groups): `per_chat_per_second`, burst `per_chat_burst`;
* a sliding 60 s window per group: at most `group_per_minute` messages in any 60 s;
* a global token bucket per bot: `global_per_second`, burst `global_burst`;
* or, in strict mode, the safe reading of the global limit: at most `global_per_second` sent
  AND edited messages in any trailing second, measured at arrival (a sliding window, not a
  bucket: no burst is ever tolerated). Edits then count too (`check_global`); per chat and per
  group only new messages count, as in the default mode.

A message is accepted only if every limit that applies has room; a refused message consumes
nothing (Telegram does not count the requests it answers with 429 either). `check` answers how
long to wait, which the server rounds up to whole seconds for ``retry_after`` (at least 1, as
Telegram).
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["FloodLimiter", "SlidingWindow", "TokenBucket"]


class TokenBucket:
    """`rate` tokens per second, holding at most `capacity` tokens; starts full."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0.0 if one is available now)."""
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class SlidingWindow:
    """At most `limit` events in any `window` seconds."""

    __slots__ = ("events", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.events: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        events = self.events
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) < self.limit:
            return 0.0
        return events[0] + self.window - now

    def take(self, now: float) -> None:
        self.events.append(now)


class FloodLimiter:
    """The limits of one bot."""

    def __init__(
        self,
        *,
        per_chat_per_second: float,
        per_chat_burst: int,
        global_per_second: float,
        global_burst: int,
        group_per_minute: int,
        now: float,
        strict: bool = False,
    ) -> None:
        self.per_chat_per_second = per_chat_per_second
        self.per_chat_burst = per_chat_burst
        self.group_per_minute = group_per_minute
        self.global_bucket: TokenBucket | SlidingWindow = (
            SlidingWindow(max(1, math.floor(global_per_second)), 1.0)
            if strict
            else TokenBucket(global_per_second, global_burst, now)
        )
        self.chats: dict[int, TokenBucket] = {}
        self.groups: dict[int, SlidingWindow] = {}

    def check(self, chat_id: int, now: float) -> float:
        """0.0 and count the message if it may be sent now; else the seconds to wait."""
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = self.chats[chat_id] = TokenBucket(
                self.per_chat_per_second, self.per_chat_burst, now
            )
        wait = max(chat.wait_time(now), self.global_bucket.wait_time(now))
        window: SlidingWindow | None = None
        if chat_id < 0:
            window = self.groups.get(chat_id)
            if window is None:
                window = self.groups[chat_id] = SlidingWindow(self.group_per_minute, 60.0)
            wait = max(wait, window.wait_time(now))
        if wait > 0.0:
            return wait
        chat.take()
        self._take_global(now)
        if window is not None:
            window.take(now)
        return 0.0

    @property
    def strict(self) -> bool:
        return isinstance(self.global_bucket, SlidingWindow)

    def check_global(self, now: float) -> float:
        """An edit: in strict mode it counts in the global window (0.0 and counted if there
        is room); otherwise edits are never limited."""
        if not self.strict:
            return 0.0
        wait = self.global_bucket.wait_time(now)
        if wait > 0.0:
            return wait
        self._take_global(now)
        return 0.0

    def _take_global(self, now: float) -> None:
        if isinstance(self.global_bucket, SlidingWindow):
            self.global_bucket.take(now)
        else:
            self.global_bucket.take()
