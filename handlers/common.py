"""Small helpers shared by handlers: answering a button, reading the pressed button's data."""

from __future__ import annotations

from typing import TypeVar

from telegram import Message, Update

from bot.callbacks import MAX_ID, Area, Callback, Number

C = TypeVar("C", bound=Callback)


async def reply(update: Update, text: str, **kwargs: object) -> Message | None:
    """Answer in the chat of the update (message or button press)."""
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(text, **kwargs)  # type: ignore[arg-type]


async def answer_callback(update: Update, text: str | None = None, alert: bool = False) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(text=text, show_alert=alert)


def clicked(update: Update, shape: type[C]) -> C | None:
    """The pressed button's data read as `shape` (bot/callbacks.py), or None if it is not."""
    query = update.callback_query
    return shape.parse(query.data) if query is not None else None


def clicked_in(update: Update, area: Area) -> Callback | None:
    """The pressed button's data read as any shape of `area`, or None (stale or forged)."""
    query = update.callback_query
    return area.parse(query.data) if query is not None else None


_TYPED_NUMBER = Number(0, MAX_ID)


def typed_number(value: str) -> int | None:
    """A whole number typed after a command (`/presences 3`), else None; like ids in callback
    data, it must fit PostgreSQL's int4 (a larger one would be a database error)."""
    return _TYPED_NUMBER.read(value)
