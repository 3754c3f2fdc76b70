"""Tips: `/astuce` (and the 💡 menu button), the 👍 / 👎 buttons, and the feedback for /stats.

`/astuce` gives the merchant's next tip now, by the drip's rules (bot/services/tips.py), and
it counts as seen: the drip will not send it again. Every tip message carries
`tip:<tip_id>:up|down`; the tip id is untrusted, so the vote is stored only if this member
did receive that tip. The message then shows the choice (a second tap changes it).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import buttons
from bot.callbacks import TipVote
from bot.content import ContentLibrary
from bot.i18n import Translator, escape
from bot.keyboards import keyboard
from bot.runtime import RelaisContext
from bot.services import tips
from bot.services.tips import FeedbackSummary
from handlers.common import answer_callback, answer_stale, clicked
from handlers.menu import menu_button

log = logging.getLogger(__name__)

NEW_MESSAGE = filters.UpdateType.MESSAGE


def library(context: RelaisContext) -> ContentLibrary:
    """The tips library of this Application (read once by build_application)."""
    return context.rt.content


async def tip_now(update: Update, context: RelaisContext) -> None:
    """`/astuce`: the next tip now, with the 👍 / 👎 buttons."""
    message = context.message
    t = context.t
    member_id = context.merchant.member_id
    lib = library(context)
    async with context.rt.db.unit_of_work() as session:
        found = await tips.tip_now(session, lib, member_id, context.rt.clock.now())
    if found is None:
        await message.reply_text(
            t(
                "🎉 Vous avez déjà lu toutes les astuces de la bibliothèque ! "
                "Votre formateur en ajoutera d'autres."
            )
        )
        return
    rendered = tips.tip_message(t, lib, found.tip, found.member, first=found.first)
    await message.reply_text(rendered.text, reply_markup=keyboard(rendered.buttons))


async def on_vote(update: Update, context: RelaisContext) -> None:
    """`tip:<tip_id>:up|down` on a tip message."""
    t = context.t
    query = context.query
    button = clicked(update, TipVote)
    vote = tips.parse_vote(button.vote) if button is not None else None
    member_id = context.actor.member_id
    if button is None or vote is None or member_id is None:
        await answer_stale(update, t)
        return
    tip_id = button.tip_id
    async with context.rt.db.unit_of_work() as session:
        stored = await tips.record_feedback(
            session, member_id, tip_id, vote, context.rt.clock.now()
        )
    if not stored:
        await answer_stale(update, t)
        return
    if vote is tips.Vote.UP:
        await answer_callback(update, t("Merci ! Je vous proposerai d'autres astuces de ce genre."))
    else:
        await answer_callback(update, t("Merci, c'est noté : je vous proposerai autre chose."))
    tip = library(context).tip(tip_id)
    shown = keyboard(buttons.tip_votes(t, tip, chosen=button.vote)) if tip is not None else None
    # The same vote twice: nothing to redraw (Telegram refuses an edit that changes nothing).
    if shown is not None and getattr(query.message, "reply_markup", None) != shown:
        try:
            await query.edit_message_reply_markup(reply_markup=shown)
        except BadRequest as exc:  # unchanged (the same vote twice), or too old
            log.debug("could not show the vote: %s", exc)


def feedback_text(t: Translator, lib: ContentLibrary, summary: FeedbackSummary) -> str:
    """For /stats: how merchants judged the tips, the most and the least useful ones."""
    if summary.answers == 0:
        return t("<b>Astuces</b>\nPas encore d'avis 👍 / 👎 sur les astuces.")
    lines = [
        t("<b>Astuces</b>"),
        t("Avis reçus : {up} 👍 · {down} 👎", up=summary.up, down=summary.down),
    ]

    def line(score: tips.TipScore) -> str:
        tip = lib.tip(score.tip_id)
        title = tips.tip_title(lib, tip, t.lang, limit=50) if tip else score.tip_id
        return f"• {escape(title)} ({score.up} 👍 · {score.down} 👎)"

    if summary.most_useful:
        lines.append(t("Les plus utiles :"))
        lines += [line(score) for score in summary.most_useful]
    if summary.least_useful:
        lines.append(t("Les moins utiles :"))
        lines += [line(score) for score in summary.least_useful]
    return "\n".join(lines)


async def stats_block(context: RelaisContext, cohort_id: int) -> str:
    """The tips' part of /stats (handlers/stats.py)."""
    async with context.rt.db.read() as session:
        summary = await tips.feedback_summary(session, cohort_id)
    return feedback_text(context.t, library(context), summary)


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("astuce", tip_now, filters=NEW_MESSAGE),
        MessageHandler(NEW_MESSAGE & menu_button("astuce"), tip_now),
        CallbackQueryHandler(on_vote, pattern=TipVote.pattern()),
    ]
