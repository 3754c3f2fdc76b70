"""`/export` (coordinator): the cohort's XLSX workbook as a document.

Sheets: members, sessions, RSVPs, attendance, objectives, the progress check's answers
and practices (bot/reports/export.py), with
headers in the coordinator's language. The same file comes from `relais export`. An archived
cohort is no one's group any more: nothing leaves the database through Telegram for it.
"""

from __future__ import annotations

from typing import Any

from telegram import InputFile, Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.reports import export
from bot.runtime import RelaisContext
from bot.services import cohorts
from bot.services.audit import audit

NEW_MESSAGE = filters.UpdateType.MESSAGE


async def send_export(update: Update, context: RelaisContext) -> None:
    message = update.effective_message
    assert message is not None
    t = context.t
    rt = context.rt
    cohort_id = context.actor.active_cohort_id
    cohort = None
    if cohort_id is not None:
        async with rt.db.unit_of_work() as tx:
            cohort = await cohorts.get(tx, cohort_id)
            data = await export.workbook_bytes(tx, cohort, t, rt.content) if cohort else b""
            if cohort is not None:
                # Personal data leaves the database: the commune can see who exported it.
                await audit(
                    tx,
                    context.actor.member_id,
                    cohort.id,
                    "cohort.export",
                    {"via": "telegram"},
                    at=rt.clock.now(),
                )
    if cohort is None:
        await message.reply_text(t("Vous ne faites partie d'aucun groupe pour le moment."))
        return
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_document(
        chat.id,
        InputFile(data, filename=export.filename(cohort, rt.clock.now())),
        caption=t(
            "📦 Tout le groupe <b>{cohort}</b> dans un tableur : membres, séances, réponses, "
            "présences, objectifs et points du mois.",
            cohort=cohort.name,
        ),
    )


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [CommandHandler("export", send_export, filters=NEW_MESSAGE)]
