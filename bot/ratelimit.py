"""Rate limiting of the replies a user's own actions trigger.

Bulk and scheduled traffic goes through the outbox dispatcher, which paces itself and
handles 429s; it marks its calls with `OUTBOX` so they pass straight through here. A
direct reply is different: the person is waiting for it. When a handler sends a few
messages in a row (a chart, then a table) to a chat that is already busy, Telegram may
answer 429; the right thing is then to wait `retry_after` and send it, not to fail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

# rate_limit_args of the outbox dispatcher's calls: it handles 429s itself.
OUTBOX: dict[str, Any] = {"outbox": True}
# A reply is retried at most this many times, and never after waiting this long in all.
# In a 429 storm every retry may meet another 429 (the outbox's sends retry at the same
# moment): the total wait, not the count, is what bounds the person's wait.
MAX_RETRIES = 10
MAX_WAIT_SECONDS = 30.0


class ReplyRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """Retry a direct reply after Telegram's `retry_after`; leave the outbox's calls alone."""

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
        waited = 0.0
        for attempt in range(MAX_RETRIES + 1):
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                delay = exc.retry_after
                seconds = delay if isinstance(delay, int | float) else delay.total_seconds()
                if attempt == MAX_RETRIES or waited + seconds > MAX_WAIT_SECONDS:
                    raise
                log.info("reply %s paced by Telegram: waiting %.1f s", endpoint, seconds)
                waited += seconds
                await asyncio.sleep(seconds)
        raise AssertionError("unreachable")  # pragma: no cover
