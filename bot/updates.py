"""The update processor: different people at once, each person's updates strictly in order.

PTB hands every update to `Application.update_processor` (its documented extension point,
`telegram.ext.BaseUpdateProcessor`). Ours runs the updates of different people
concurrently, up to `max_running` at a time, and those of one person one after the other,
in the order Telegram gave them. A person is keyed by the update's user, or by its chat when
there is no user (a channel post): the key of every ConversationHandler of Relais contains
the user (`per_user=True`, checked by a test), so a conversation never sees two of its own
updates at once - which is what PTB's warning about ConversationHandler and concurrent
updates is about - and a draft in `user_data` is only ever touched by its owner's updates.

Why two bounds: PTB's own semaphore is taken *before* `do_process_update`, so an update
waiting behind the same person's previous one would hold a slot while it waits. With one
semaphore of 64, a single person sending 64 updates faster than they are handled would hold
every slot and everyone else would queue behind them. So PTB's semaphore only counts the
updates admitted (running or waiting for their turn), and the `max_running` bound is taken
once an update is at the head of its person's line: one person's backlog holds at most one
running slot.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

DEFAULT_MAX_RUNNING = 64
# PTB creates a task per update as soon as it is fetched, whatever this bound: it only
# limits how many of those tasks may wait here at once (the rest wait on PTB's semaphore).
DEFAULT_MAX_ADMITTED = 4096


def person_of(update: object) -> Hashable | None:
    """Whose line an update waits in: its user, else its chat; None for neither (run freely)."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    return None


class _Line:
    """The updates of one person: the lock gives the turn, FIFO (asyncio.Lock is fair)."""

    __slots__ = ("lock", "waiting")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.waiting = 0


class PerPersonUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across people (at most `max_running` at once), in order for each person."""

    __slots__ = ("_lines", "_max_running", "_running")

    def __init__(
        self,
        max_running: int = DEFAULT_MAX_RUNNING,
        *,
        max_admitted: int = DEFAULT_MAX_ADMITTED,
    ) -> None:
        if max_running < 1:
            raise ValueError("max_running must be a positive integer")
        # Above 1, PTB hands each update to its own task instead of awaiting it in turn.
        super().__init__(max(max_admitted, max_running, 2))
        self._max_running = max_running
        self._running = asyncio.Semaphore(max_running)
        self._lines: dict[Hashable, _Line] = {}

    @property
    def max_running(self) -> int:
        """How many updates (of as many different people) may be processed at once."""
        return self._max_running

    @property
    def people_waiting(self) -> int:
        """How many people have an update in progress or waiting (a snapshot)."""
        return len(self._lines)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = person_of(update)
        try:
            if key is None:
                async with self._running:
                    await coroutine
            else:
                await self._in_line(key, coroutine)
        except BaseException:
            # Cancelled while waiting its turn (the Application is stopping): say nothing of a
            # coroutine that never started rather than warn that it was never awaited.
            if inspect.iscoroutine(coroutine) and inspect.getcoroutinestate(coroutine) == (
                inspect.CORO_CREATED
            ):
                coroutine.close()
            raise

    async def _in_line(self, key: Hashable, coroutine: Awaitable[Any]) -> None:
        # Everything up to `lock.acquire()` runs without yielding: PTB starts the tasks in the
        # order it fetched the updates, so each update joins its person's line in that order.
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = _Line()
        line.waiting += 1
        try:
            async with line.lock, self._running:
                await coroutine
        finally:
            line.waiting -= 1
            if line.waiting == 0:
                del self._lines[key]

    async def initialize(self) -> None:
        """Nothing to allocate: lines are created and dropped with the updates."""

    async def shutdown(self) -> None:
        """Nothing to free: `Application.stop()` has awaited every update task by now."""
