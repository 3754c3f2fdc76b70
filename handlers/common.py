"""Small helpers shared by handlers: sending, showing a step, answering and reading buttons."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from bot.callbacks import MAX_ID, Area, Callback, Number
from bot.delivery.registry import Button
from bot.i18n import N_, Translator
from bot.keyboards import keyboard
from bot.runtime import RelaisContext

C = TypeVar("C", bound=Callback)
log = logging.getLogger(__name__)


async def send(context: RelaisContext, text: str, **options: Any) -> Message:
    """Send `text` to the chat of the update (`options` as for `send_message`)."""
    return await context.bot.send_message(context.chat_id, text, **options)


async def show(
    update: Update, text: str, rows: Sequence[Sequence[Button]] = (), *, edit: bool = True
) -> None:
    """Answer a button by replacing its message (old buttons disappear), a message by a reply.

    With `edit=True` this also answers the callback query; with `edit=False` the caller has
    answered it (a query is answered once).
    """
    markup = keyboard(rows)
    query = update.callback_query
    if query is not None and edit:
        if query.message is None:
            await query.answer()
        else:
            # Both at once: the spinner stops and the message changes after one round trip
            # to Telegram, not two.
            _, edited = await asyncio.gather(query.answer(), _edited(query, text, markup))
            if edited:
                return
    message = update.effective_message
    if message is not None:
        await message.reply_text(text, reply_markup=markup)


async def _edited(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> bool:
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as exc:  # too old to edit, or unchanged: send a new one
        log.debug("edit failed, sending instead: %s", exc)
        return False
    return True


async def drop_buttons(update: Update) -> None:
    """An answered question loses its buttons, so that it cannot be pressed twice."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest as exc:
        log.debug("could not drop buttons: %s", exc)


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
