"""RSVP buttons: `rsvp:<session_id>:yes|no`, on reminders, notices and `/seances`.

The answer is confirmed in a short message (the waiting list says its position). When a
seat is freed, the first on the waiting list is told through the outbox, so the dispatcher
is woken once the answer is stored. The session id is untrusted: the service checks that
the member is enrolled in the session's cohort.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.callbacks import Rsvp
from bot.runtime import RelaisContext
from bot.services import rsvp
from bot.services.rsvp import RsvpStatus
from handlers.common import answer_callback, answer_stale, clicked


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
    await answer_callback(update)
    if outcome.status is RsvpStatus.CANCELLED:
        text = t("Cette séance a été annulée.")
    elif outcome.status is RsvpStatus.CLOSED:
        text = t("La séance {number} a commencé : les réponses sont fermées.", number=ts.number)
    elif outcome.status is RsvpStatus.YES:
        text = (
            t(
                "✅ C'est noté : vous venez à la séance {number}, {when}. À bientôt !",
                number=ts.number,
                when=t.when(ts.starts_at),
            )
            if outcome.changed
            else t(
                "C'est déjà noté : vous venez à la séance {number}. À bientôt !", number=ts.number
            )
        )
    elif outcome.status is RsvpStatus.WAITLIST:
        text = t(
            "⏳ La séance {number} est complète. Vous êtes n°{position} sur la liste d'attente : "
            "je vous préviens dès qu'une place se libère.",
            number=ts.number,
            position=outcome.position or "?",
        )
    else:
        text = t(
            "C'est noté : vous ne venez pas à la séance {number}. Merci de nous avoir prévenus !",
            number=ts.number,
        )
    await context.bot.send_message(context.chat_id, text)


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [CallbackQueryHandler(on_rsvp, pattern=Rsvp.pattern())]
