"""Rate limiting of the replies a user's own actions trigger, in the bot's shared budget.

Telegram counts sent and edited messages in one bot-wide budget (about 30 a second; callback
answers and chat actions are free). Replies to people and the outbox's bulk traffic share it
through one `SendBudget` (bot/delivery/limits.py): a reply records itself there and is served
first; the outbox dispatcher, whose calls are marked `OUTBOX` and pass straight through here,
paces itself on what the replies leave. A reply waits only when the budget is full (more
than ~30 messages in the last second), never behind the outbox's queue: the outbox holds at
most a second of slots, and leaves the next free one to a waiting reply.

A 429 can still happen (another process on the same bot, Telegram in a bad mood): the right
thing is then to wait `retry_after` and send the reply, not to fail; the outbox pauses too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from bot.delivery.limits import SendBudget

log = logging.getLogger(__name__)

# rate_limit_args of the outbox dispatcher's calls: it paces itself and handles 429s.
OUTBOX: dict[str, Any] = {"outbox": True}
# A reply is retried at most this many times, and never after waiting this long in all.
# In a 429 storm every retry may meet another 429 (the outbox's sends retry at the same
# moment): the total wait, not the count, is what bounds the person's wait.
MAX_RETRIES = 10
MAX_WAIT_SECONDS = 30.0
# Bot API methods that do not count in Telegram's message budget.
_FREE = frozenset({"sendChatAction"})
_COUNTED_PREFIXES = ("send", "edit", "copy", "forward")


def counts_in_budget(endpoint: str) -> bool:
    """Whether a Bot API method sends or edits a message (answerCallbackQuery does not)."""
    return endpoint.startswith(_COUNTED_PREFIXES) and endpoint not in _FREE


class ReplyRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """Replies first in the bot's budget; retry after Telegram's `retry_after`; leave the
    outbox's calls alone. `pace=False` only records replies (they never wait for a slot)."""

    def __init__(self, budget: SendBudget | None = None, *, pace: bool = True) -> None:
        self.budget = budget or SendBudget()
        self.pace = pace
        # Replies waiting for a slot go in the order they came.
        self._turn = asyncio.Lock()

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | JSONDict | list[JSONDict]:
        if rate_limit_args and rate_limit_args.get("outbox"):
            return await callback(*args, **kwargs)
        counted = counts_in_budget(endpoint)
        waited = 0.0
        for attempt in range(MAX_RETRIES + 1):
            ticket = await self._take_slot() if counted else None
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                self._finish(ticket, answered=True)
                delay = exc.retry_after
                seconds = delay if isinstance(delay, int | float) else delay.total_seconds()
                # Telegram's flood wait is for the whole bot: the outbox waits as well.
                self.budget.pause(seconds)
                if attempt == MAX_RETRIES or waited + seconds > MAX_WAIT_SECONDS:
                    raise
                log.info("reply %s paced by Telegram: waiting %.1f s", endpoint, seconds)
                waited += seconds
                await asyncio.sleep(seconds)
                continue
            except BaseException as exc:
                # Without an answer (network error, timeout, cancelled) the message may have
                # arrived up to now; a Bad Request is an answer.
                lost = isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)
                self._finish(ticket, answered=isinstance(exc, Exception) and not lost)
                raise
            self._finish(ticket, answered=True)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _finish(self, ticket: int | None, *, answered: bool) -> None:
        if ticket is not None:
            self.budget.finish(ticket, answered=answered)

    async def _take_slot(self) -> int:
        budget = self.budget
        if not self.pace or (budget.replies_waiting == 0 and budget.reply_delay() == 0.0):
            return budget.start(reply=True)
        budget.replies_waiting += 1
        began = budget.now()
        try:
            async with self._turn:
                # The budget is bookkeeping: it says when a slot frees, there is no event.
                while (delay := budget.reply_delay()) > 0.0:  # noqa: ASYNC110
                    await asyncio.sleep(delay)
                return budget.start(reply=True)
        finally:
            budget.replies_waiting -= 1
            budget.replies_held += 1
            budget.reply_wait += budget.now() - began
