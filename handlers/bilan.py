"""`/bilan` (trainer, coordinator): the programme's impact report as an A4 PDF document.

The figures are bot/reports/bilan.py's (aggregates only: fewer than five people show "< 5"),
drawn by bot/reports/bilan_pdf.py in the reader's language and the cohort's zone. The same
file comes from `relais bilan --cohort <code> --out bilan.pdf`. Drawing the charts takes
CPU: it runs in a thread, so other people's updates do not wait behind it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import InputFile, Update
from telegram.constants import ChatAction
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.reports import bilan, bilan_pdf
from bot.runtime import RelaisContext
from bot.services import cohorts

NEW_MESSAGE = filters.UpdateType.MESSAGE


async def send_bilan(update: Update, context: RelaisContext) -> None:
    message = update.effective_message
    assert message is not None
    rt = context.rt
    cohort_id = context.actor.active_cohort_id
    data = None
    if cohort_id is not None:
        async with rt.db.read() as tx:
            cohort = await cohorts.get(tx, cohort_id)
            if cohort is not None:
                data = await bilan.bilan_with_content(
                    tx, cohort, rt.clock.now(), rt.content, rt.settings.booster_months
                )
    t = context.t
    if data is None:
        await message.reply_text(t("Vous ne faites partie d'aucun groupe pour le moment."))
        return
    await context.bot.send_chat_action(context.chat_id, ChatAction.UPLOAD_DOCUMENT)
    page_t = t.with_zone(data.zone)
    pdf = await asyncio.to_thread(bilan_pdf.render_bilan, data, page_t, rt.content)
    await context.bot.send_document(
        context.chat_id,
        InputFile(pdf, filename=bilan_pdf.filename(data.cohort_name)),
        caption=t(
            "📄 Le bilan du groupe <b>{cohort}</b>, à transmettre tel quel : des chiffres "
            "d'ensemble seulement, aucun commerçant n'y est cité.",
            cohort=data.cohort_name,
        ),
    )


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [CommandHandler("bilan", send_bilan, filters=NEW_MESSAGE)]
