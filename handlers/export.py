"""`/export` (coordinator): the cohort's XLSX workbook as a document.

Sheets: members, sessions, RSVPs, attendance, objectives (bot/services/export.py), with
headers in the coordinator's language. The same file comes from `relais export`.
"""

from __future__ import annotations

from typing import Any

from telegram import InputFile, Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.models import Cohort
from bot.runtime import RelaisContext
from bot.services import export
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
        async with rt.db.unit_of_work() as session:
            cohort = await session.get(Cohort, cohort_id)
            data = await export.workbook_bytes(session, cohort, t) if cohort else b""
            if cohort is not None:
                # Personal data leaves the database: the commune can see who exported it.
                await audit(
                    session,
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
            "présences et objectifs.",
            cohort=cohort.name,
        ),
    )


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [CommandHandler("export", send_export, filters=NEW_MESSAGE)]
