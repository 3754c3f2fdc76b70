"""The update processor (bot/updates.py): concurrent across people, in order for each person."""

from __future__ import annotations

import asyncio
import warnings
from datetime import UTC, datetime
from itertools import count

import pytest
from telegram import CallbackQuery, Chat, Message, Update, User
from telegram.ext import ConversationHandler

from bot.app import build_application
from bot.config import Settings
from bot.updates import PerPersonUpdateProcessor, person_of

_ids = count(1)


def message_from(user_id: int, chat_id: int | None = None, text: str = "hi") -> Update:
    chat = Chat(chat_id if chat_id is not None else user_id, Chat.PRIVATE)
    user = User(user_id, f"U{user_id}", is_bot=False)
    message = Message(next(_ids), datetime.now(UTC), chat, from_user=user, text=text)
    return Update(next(_ids), message=message)


def channel_post(chat_id: int) -> Update:
    message = Message(next(_ids), datetime.now(UTC), Chat(chat_id, Chat.CHANNEL), text="post")
    return Update(next(_ids), channel_post=message)


class Recorder:
    """Coroutines that note when they start and end, and wait until released."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.running = 0
        self.peak = 0
        self.gates: dict[str, asyncio.Event] = {}

    async def work(self, name: str, hold: bool = False) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        self.events.append(("start", name))
        if hold:
            gate = self.gates.setdefault(name, asyncio.Event())
            await gate.wait()
        else:
            await asyncio.sleep(0)
        self.events.append(("end", name))
        self.running -= 1

    def release(self, name: str) -> None:
        self.gates.setdefault(name, asyncio.Event()).set()

    def started(self, name: str) -> bool:
        return ("start", name) in self.events


def submit(
    processor: PerPersonUpdateProcessor, update: object, coroutine: object
) -> asyncio.Task[None]:
    """As PTB's update fetcher does: one task per update, created in arrival order."""
    return asyncio.create_task(processor.process_update(update, coroutine))  # type: ignore[arg-type]


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_an_update_is_keyed_by_its_user_then_its_chat() -> None:
    assert person_of(message_from(7)) == ("user", 7)
    assert person_of(message_from(7, chat_id=-100)) == ("user", 7)  # a group: still the person
    assert person_of(channel_post(-200)) == ("chat", -200)
    assert person_of(object()) is None


async def test_two_taps_of_one_person_in_the_same_millisecond_run_one_after_the_other() -> None:
    processor = PerPersonUpdateProcessor(8)
    rec = Recorder()
    first = submit(processor, message_from(1), rec.work("tap 1", hold=True))
    second = submit(processor, message_from(1), rec.work("tap 2"))
    await settle()
    assert rec.started("tap 1")
    assert not rec.started("tap 2")  # the second waits its turn
    rec.release("tap 1")
    await asyncio.gather(first, second)
    assert rec.events == [
        ("start", "tap 1"),
        ("end", "tap 1"),
        ("start", "tap 2"),
        ("end", "tap 2"),
    ]
    assert processor.people_waiting == 0  # nothing kept once a person's line is empty


async def test_a_persons_updates_keep_their_arrival_order() -> None:
    processor = PerPersonUpdateProcessor(8)
    rec = Recorder()
    tasks = [submit(processor, message_from(1), rec.work(f"u{n}", hold=n == 0)) for n in range(20)]
    await settle()
    rec.release("u0")
    await asyncio.gather(*tasks)
    assert [name for kind, name in rec.events if kind == "start"] == [f"u{n}" for n in range(20)]
    assert rec.peak == 1


async def test_different_people_are_handled_at_the_same_time() -> None:
    processor = PerPersonUpdateProcessor(8)
    rec = Recorder()
    tasks = [
        submit(processor, message_from(user), rec.work(f"p{user}", hold=True)) for user in (1, 2, 3)
    ]
    await settle()
    assert rec.running == 3
    for user in (1, 2, 3):
        rec.release(f"p{user}")
    await asyncio.gather(*tasks)


async def test_no_more_than_max_running_at_once() -> None:
    processor = PerPersonUpdateProcessor(4)
    rec = Recorder()
    tasks = [
        submit(processor, message_from(user), rec.work(f"p{user}", hold=True)) for user in range(10)
    ]
    await settle()
    assert rec.running == 4
    for user in range(10):
        rec.release(f"p{user}")
    await asyncio.gather(*tasks)
    assert rec.peak == 4
    assert len([e for e in rec.events if e[0] == "end"]) == 10


async def test_one_persons_backlog_does_not_hold_up_everyone_else() -> None:
    # Two running slots; Alice's 30 updates arrive first. Bob must not wait for all of them.
    processor = PerPersonUpdateProcessor(2)
    rec = Recorder()
    alice = [submit(processor, message_from(1), rec.work(f"a{n}", hold=True)) for n in range(30)]
    bob = submit(processor, message_from(2), rec.work("bob"))
    await bob
    assert [name for kind, name in rec.events if kind == "start"] == ["a0", "bob"]
    for n in range(30):
        rec.release(f"a{n}")
    await asyncio.gather(*alice)


async def test_updates_of_nobody_run_without_waiting_for_a_line() -> None:
    processor = PerPersonUpdateProcessor(2)
    rec = Recorder()
    held = submit(processor, message_from(1), rec.work("alice", hold=True))
    free = submit(processor, object(), rec.work("poll"))
    await free
    assert rec.started("poll")
    rec.release("alice")
    await held


async def test_an_update_cancelled_while_waiting_its_turn_leaves_no_trace() -> None:
    processor = PerPersonUpdateProcessor(2)
    rec = Recorder()
    first = submit(processor, message_from(1), rec.work("first", hold=True))
    waiting_work = rec.work("second")
    second = submit(processor, message_from(1), waiting_work)
    await settle()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would fail here
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
    assert waiting_work.cr_frame is None  # closed, not left dangling
    rec.release("first")
    await first
    assert not rec.started("second")
    assert processor.people_waiting == 0


def test_max_running_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_running"):
        PerPersonUpdateProcessor(0)


def test_relais_processes_updates_with_it_and_every_conversation_is_keyed_by_the_user(
    settings: Settings,
) -> None:
    """PTB warns that ConversationHandler relies on updates being processed one by one: ours
    are, for each user, so every conversation's key must contain the user."""
    app = build_application(settings, start_engine=False)
    assert isinstance(app.update_processor, PerPersonUpdateProcessor)
    assert app.concurrent_updates > 1  # PTB hands every update to its own task
    conversations = [
        handler
        for handlers in app.handlers.values()
        for handler in handlers
        if isinstance(handler, ConversationHandler)
    ]
    assert conversations
    for conversation in conversations:
        assert conversation.per_user, conversation.name
        assert conversation.per_chat, conversation.name
        assert not conversation.per_message, conversation.name


def test_a_callback_query_is_keyed_by_the_person_who_tapped() -> None:
    chat = Chat(5, Chat.PRIVATE)
    user = User(5, "Alice", is_bot=False)
    message = Message(1, datetime.now(UTC), chat, text="?")
    query = CallbackQuery("q1", user, "instance", message=message, data="rsvp:1:yes")
    assert person_of(Update(1, callback_query=query)) == ("user", 5)
