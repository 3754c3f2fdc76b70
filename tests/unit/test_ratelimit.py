"""Replies in the bot's message budget (bot/ratelimit.py): counted, served first, paced by
Telegram's 429. The budget's window is shortened to 0.1 s so that nothing waits for long."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from telegram.error import BadRequest, RetryAfter, TimedOut

from bot.delivery.limits import SendBudget
from bot.ratelimit import OUTBOX, ReplyRateLimiter, counts_in_budget


class Api:
    """Stands in for PTB's request: records when each call ran; fails as told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []
        self.failures: list[Exception] = []

    def call(self, endpoint: str) -> Any:
        async def callback() -> bool:
            self.calls.append((endpoint, time.monotonic()))
            if self.failures:
                raise self.failures.pop(0)
            return True

        return callback


async def request(
    limiter: ReplyRateLimiter, api: Api, endpoint: str, rate_limit_args: Any = None
) -> Any:
    return await limiter.process_request(api.call(endpoint), (), {}, endpoint, {}, rate_limit_args)


@pytest.mark.parametrize(
    ("endpoint", "counted"),
    [
        ("sendMessage", True),
        ("sendPhoto", True),
        ("sendDocument", True),
        ("copyMessage", True),
        ("editMessageText", True),
        ("editMessageReplyMarkup", True),
        ("answerCallbackQuery", False),
        ("sendChatAction", False),
        ("deleteMessage", False),
        ("getUpdates", False),
    ],
)
def test_sent_and_edited_messages_count_callback_answers_do_not(
    endpoint: str, counted: bool
) -> None:
    assert counts_in_budget(endpoint) is counted


async def test_replies_are_recorded_in_the_budget_and_the_outbox_passes_through() -> None:
    budget = SendBudget(window=0.1)
    limiter = ReplyRateLimiter(budget)
    api = Api()
    await request(limiter, api, "sendMessage")
    await request(limiter, api, "editMessageReplyMarkup")
    await request(limiter, api, "answerCallbackQuery")
    await request(limiter, api, "sendMessage", OUTBOX)  # the dispatcher counts its own
    assert budget.started_replies == 2
    assert budget.started_outbox == 0
    assert budget.count() == 2
    assert budget.replies_recently(1.0)
    assert len(api.calls) == 4


async def test_a_full_budget_holds_replies_back_in_the_order_they_came() -> None:
    budget = SendBudget(cap=2, window=0.1)
    limiter = ReplyRateLimiter(budget)
    api = Api()
    began = time.monotonic()
    await asyncio.gather(*(request(limiter, api, f"sendMessage{n}") for n in range(5)))
    order = [endpoint for endpoint, _ in api.calls]
    assert order == [f"sendMessage{n}" for n in range(5)]
    moments = [moment - began for _, moment in api.calls]
    # Two at once, then two when those stop counting (a window later), then the fifth.
    assert moments[1] < 0.05
    assert 0.07 < moments[2] < 0.2
    assert moments[4] > 0.15
    assert budget.replies_held == 3
    assert "5 replies and 0 outbox messages" in budget.summary()
    # Callback answers never wait, even with the budget full.
    await request(limiter, api, "sendMessage")
    await request(limiter, api, "sendMessage")
    before = time.monotonic()
    await request(limiter, api, "answerCallbackQuery")
    assert time.monotonic() - before < 0.05


async def test_without_pacing_replies_are_only_recorded() -> None:
    budget = SendBudget(cap=1, window=0.1)
    limiter = ReplyRateLimiter(budget, pace=False)
    api = Api()
    began = time.monotonic()
    await asyncio.gather(*(request(limiter, api, "sendMessage") for _ in range(4)))
    assert time.monotonic() - began < 0.05
    assert budget.started_replies == 4


async def test_a_429_pauses_the_outbox_and_the_reply_is_sent_after_retry_after() -> None:
    budget = SendBudget(window=0.1)
    limiter = ReplyRateLimiter(budget)
    api = Api()
    api.failures.append(RetryAfter(0.05))  # type: ignore[arg-type]  # seconds as a float
    assert await request(limiter, api, "sendMessage")
    assert [endpoint for endpoint, _ in api.calls] == ["sendMessage", "sendMessage"]
    assert api.calls[1][1] - api.calls[0][1] >= 0.05
    assert budget.in_flight == 0


async def test_a_reply_without_an_answer_counts_a_full_window() -> None:
    budget = SendBudget(cap=1, window=0.1)
    limiter = ReplyRateLimiter(budget)
    api = Api()
    api.failures.append(TimedOut())
    with pytest.raises(TimedOut):
        await request(limiter, api, "sendMessage")
    assert budget.reply_delay() == pytest.approx(0.1, abs=0.01)
    await asyncio.sleep(0.11)
    api.failures.append(BadRequest("message is not modified"))
    with pytest.raises(BadRequest):  # an answer: the shortest round trip is taken off
        await request(limiter, api, "editMessageText")
    assert budget.in_flight == 0
    assert budget.count() == 1
