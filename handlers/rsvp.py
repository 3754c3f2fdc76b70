"""RSVP buttons: `rsvp:<session_id>:yes|no`, on reminders, notices and `/seances`.

A tap is answered in place, with one Telegram call that counts in the message budget: the
callback answer (free) confirms it in a short notice (an alert for the waiting list, whose
position matters), and the message itself is edited, its buttons pointing at the answer
given and, when it ends with the member's answer (reminders, `/seances` cards), that line
restated. No new message: in a crowd every tap costs one send, not two. Once the session
has started or is cancelled, the buttons go.

When a seat is freed, the first on the waiting list is told through the outbox, so the
dispatcher is woken once the answer is stored. The session id is untrusted: the service
checks that the member is enrolled in the session's cohort.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot import buttons
from bot.callbacks import Rsvp
from bot.i18n import Translator
from bot.keyboards import keyboard
from bot.models import RsvpAnswer
from bot.runtime import RelaisContext
from bot.services import reminders, rsvp
from bot.services.rsvp import RsvpOutcome, RsvpState, RsvpStatus
from handlers.common import answer_callback, answer_stale, clicked

log = logging.getLogger(__name__)


def confirmation(t: Translator, outcome: RsvpOutcome) -> str:
    """What the callback answer says (at most 200 characters, Telegram's limit)."""
    ts = outcome.session
    number = ts.number if ts is not None else "?"
    if outcome.status is RsvpStatus.CANCELLED:
        return t("Cette séance a été annulée.")
    if outcome.status is RsvpStatus.CLOSED:
        return t("La séance {number} a commencé : les réponses sont fermées.", number=number)
    if outcome.status is RsvpStatus.YES:
        if outcome.changed and ts is not None:
            return t(
                "✅ C'est noté : vous venez à la séance {number}, {when}. À bientôt !",
                number=number,
                when=t.when(ts.starts_at),
            )
        return t("C'est déjà noté : vous venez à la séance {number}. À bientôt !", number=number)
    if outcome.status is RsvpStatus.WAITLIST:
        return t(
            "⏳ La séance {number} est complète. Vous êtes n°{position} sur la liste d'attente : "
            "je vous préviens dès qu'une place se libère.",
            number=number,
            position=outcome.position or "?",
        )
    return t(
        "C'est noté : vous ne venez pas à la séance {number}. Merci de nous avoir prévenus !",
        number=number,
    )


def redrawn_markup(
    message: Message, t: Translator, session_id: int, chosen: Literal["yes", "no"] | None
) -> InlineKeyboardMarkup | None:
    """The message's buttons with this session's RSVP row pointing at `chosen`, or without
    that row when `chosen` is None (answers closed); the other rows as they were."""
    current = message.reply_markup
    rows: list[list[InlineKeyboardButton]] = []
    for row in current.inline_keyboard if current is not None else ():
        parsed = [
            Rsvp.parse(b.callback_data) if isinstance(b.callback_data, str) else None for b in row
        ]
        if any(p is not None and p.session_id == session_id for p in parsed):
            if chosen is not None:
                markup = keyboard(buttons.rsvp(t, session_id, chosen))
                assert markup is not None  # two buttons
                rows.extend(list(r) for r in markup.inline_keyboard)
            continue
        rows.append(list(row))
    return InlineKeyboardMarkup(rows) if rows else None


async def redraw(update: Update, text: str | None, markup: InlineKeyboardMarkup | None) -> None:
    """Edit the pressed message: its text and buttons, or only its buttons (text None)."""
    query = update.callback_query
    if query is None:
        return
    try:
        if text is not None:
            await query.edit_message_text(text, reply_markup=markup)
        else:
            await query.edit_message_reply_markup(reply_markup=markup)
    except BadRequest as exc:
        # "message is not modified" when the same answer is tapped twice (each tap carries
        # the message as it was when pressed); or a message too old to edit. The callback
        # answer has said it already.
        log.debug("could not redraw the RSVP buttons: %s", exc)


async def on_rsvp(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, Rsvp)
    member_id = context.actor.member_id
    if button is None or member_id is None:
        await answer_stale(update, t)
        return
    rt = context.rt
    async with rt.db.unit_of_work() as session:
        outcome = await rsvp.answer(
            session,
            session_id=button.session_id,
            member_id=member_id,
            yes=button.answer == "yes",
            now=rt.clock.now(),
        )
    if outcome.promoted:
        rt.wake_dispatcher()
    ts = outcome.session
    if ts is None or outcome.status is RsvpStatus.NOT_FOUND:
        await answer_stale(update, t, alert=True)
        return
    closed = outcome.status in (RsvpStatus.CANCELLED, RsvpStatus.CLOSED)
    notice = confirmation(t, outcome)
    alert = closed or outcome.status is RsvpStatus.WAITLIST
    message = context.query.message
    if not isinstance(message, Message):  # too old for Telegram to show it to us
        await answer_callback(update, notice, alert=alert)
        return
    if closed:
        chosen: Literal["yes", "no"] | None = None
        text = None
    else:
        state = RsvpState(RsvpAnswer(outcome.status.value), outcome.position)
        chosen = reminders.chosen(state)
        text = reminders.restate_rsvp_line(t, message.text or "", message.text_html or "", state)
    markup = redrawn_markup(message, t, ts.id, chosen)
    if text is None and markup == message.reply_markup:
        await answer_callback(update, notice, alert=alert)  # nothing to redraw (said again)
        return
    # Both at once: the spinner stops and the message changes after one round trip, not two.
    await asyncio.gather(answer_callback(update, notice, alert=alert), redraw(update, text, markup))


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [CallbackQueryHandler(on_rsvp, pattern=Rsvp.pattern())]
