"""Small helpers shared by handlers: answering a button, reading the pressed button's data."""

from __future__ import annotations

from typing import TypeVar

from telegram import Message, Update

from bot.callbacks import MAX_ID, Area, Callback, Number
from bot.i18n import N_, Translator
from bot.runtime import RelaisContext

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


STALE_BUTTON = N_("Ce bouton n'est plus valable.")


def stale_button(t: Translator) -> str:
    """What a button says when it no longer does anything: stale, forged, or not yours."""
    return t(STALE_BUTTON)


async def answer_stale(update: Update, t: Translator, *, alert: bool = False) -> None:
    """Answer the pressed button with `stale_button` (in `t`'s language)."""
    await answer_callback(update, stale_button(t), alert=alert)


async def stale(update: Update, context: RelaisContext) -> None:
    """A handler for buttons that no longer do anything (in the actor's language)."""
    await answer_stale(update, context.t)


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
