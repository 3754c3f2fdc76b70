"""The flyer button of `/inviter`: `inv:flyer:<cohort_id>` sends the cohort's A4 PDF.

The PDF itself is drawn by bot/services/flyer.py, in the cohort's language (the language of
the room, not of the coordinator who asks). The cohort id in the callback data is
untrusted: the server checks again that the sender may coordinate that cohort.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import InputFile, Update
from telegram.constants import ChatAction
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.callbacks import Flyer
from bot.delivery.registry import Button
from bot.i18n import Translator
from bot.runtime import RelaisContext
from bot.services import cohorts, staff
from bot.services.access import Access
from bot.services.flyer import filename, flyer_text, join_url, render_flyer
from handlers.access import refusal
from handlers.common import answer_callback, answer_stale, clicked

log = logging.getLogger(__name__)


def flyer_button(t: Translator, cohort_id: int) -> Button:
    """The flyer button, for /inviter's keyboard."""
    return Button(t("🖨️ Affiche à imprimer (PDF)"), Flyer(cohort_id).pack())


async def send_flyer(update: Update, context: RelaisContext) -> None:
    t = context.t
    actor = context.actor
    button = clicked(update, Flyer)
    if button is None:
        await answer_stale(update, t)
        return
    cohort_id = button.cohort_id
    async with context.rt.db.unit_of_work() as session:
        allowed = await staff.can_coordinate(
            session, actor.member_id, cohort_id, is_admin=actor.is_admin
        )
        cohort = await cohorts.get(session, cohort_id) if allowed else None
    if cohort is None:
        log.info("refused flyer of cohort %s for %s", cohort_id, actor.telegram_user_id)
        await answer_callback(update, refusal(t, Access.COORDINATOR, actor.onboarded), alert=True)
        return
    await answer_callback(update)
    await context.bot.send_chat_action(context.chat_id, ChatAction.UPLOAD_DOCUMENT)
    text = flyer_text(
        context.rt.i18n(cohort.language),
        programme=cohort.name,
        commune=cohort.commune,
        url=join_url(context.bot.username, cohort.join_code),
    )
    # Drawing takes a tenth of a second: not on the event loop.
    pdf = await asyncio.to_thread(render_flyer, text)
    await context.bot.send_document(
        context.chat_id,
        document=InputFile(pdf, filename=filename(cohort.name)),
        caption=t(
            "L'affiche du groupe « {name} » à imprimer en A4 : le QR code, les trois gestes "
            "pour rejoindre le groupe, et le lien écrit en entier.",
            name=cohort.name,
        ),
    )


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [CallbackQueryHandler(send_flyer, pattern=Flyer.pattern())]
