"""The access gate: runs first (group -1) for every update.

It reads who the sender is (`context.actor`), keeps Relais to private chats, and applies
the authorisation table of bot/services/access.py to every command, menu button and
callback: a refusal is a short, kind message and stops the update there.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.i18n import Translator
from bot.runtime import RelaisContext
from bot.services.access import Access, callback_access, command_access, load_actor
from bot.services.members import TOUCH_GRANULARITY, touch
from handlers.common import stale_button
from handlers.menu import command_for_text

log = logging.getLogger(__name__)


def command_of(update: Update) -> str | None:
    """The command of a message (`/objectif@relais_bot args` -> "objectif"), if any."""
    message = update.message
    if message is None or not message.text or not message.text.startswith("/"):
        return command_for_text(message.text if message else None)
    head = message.text[1:].split(maxsplit=1)[0] if len(message.text) > 1 else ""
    return head.split("@", 1)[0].lower()


def refusal(t: Translator, access: Access, onboarded: bool) -> str:
    if not onboarded and access in (Access.MEMBER, Access.MERCHANT):
        return t(
            "Pour cela, il faut d'abord rejoindre votre groupe de formation. "
            "Demandez le lien d'invitation à votre formateur ou à la commune."
        )
    if access is Access.MERCHANT:
        return t("Cette fonction est réservée aux commerçants inscrits à la formation.")
    if access is Access.TRAINER:
        return t("Cette commande est réservée au formateur et à la coordination du groupe.")
    if access is Access.COORDINATOR:
        return t("Cette commande est réservée à la coordination (la commune).")
    return t("Cette commande est réservée à l'équipe de la formation.")


async def gate(update: Update, context: RelaisContext) -> None:
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        raise ApplicationHandlerStop
    rt = context.rt
    settings = rt.settings
    try:
        # One read-only statement, outside any transaction: it does not queue behind other
        # people's writes on SQLite, and costs one trip to the database instead of three.
        async with rt.db.glance() as session:
            actor = await load_actor(
                session,
                telegram_user_id=user.id,
                language_code=user.language_code,
                admin_ids=settings.admin_ids,
                default_language=settings.default_language,
                default_zone=settings.timezone,
            )
        now = rt.clock.now()
        if actor.member_id is not None and actor.seen_is_stale(now, TOUCH_GRANULARITY):
            # A write only every TOUCH_GRANULARITY per person, not one per update.
            async with rt.db.unit_of_work() as session:
                await touch(session, actor.member_id, now)
    except Exception as exc:
        # Nothing may run without knowing who asked (PTB would go on to the next group):
        # report it like any error, then stop this update here.
        await context.application.process_error(update, exc)
        raise ApplicationHandlerStop from exc
    context.actor = actor
    t = context.t

    if chat.type != ChatType.PRIVATE:
        # Relais talks with each person privately; in a group it only points there.
        if update.message and update.message.text and update.message.text.startswith("/"):
            await update.message.reply_text(
                t("Je fonctionne en conversation privée : écrivez-moi directement, /start.")
            )
        elif update.callback_query:
            await update.callback_query.answer()
        raise ApplicationHandlerStop

    query = update.callback_query
    if query is not None:
        data = query.data or ""
        access = callback_access(data)
        if access is None:
            await query.answer(stale_button(t), show_alert=False)
            raise ApplicationHandlerStop
        if not actor.may(access):
            log.info("refused callback area=%s user=%s", data.split(":", 1)[0], user.id)
            await query.answer(refusal(t, access, actor.onboarded), show_alert=True)
            raise ApplicationHandlerStop
        return

    command = command_of(update)
    if command is None:
        return
    access = command_access(command)
    message = update.effective_message
    if access is None:
        if message is not None and update.message is not None:
            await message.reply_text(
                t("Je ne connais pas cette commande. Tapez /aide pour voir ce que je sais faire.")
            )
        raise ApplicationHandlerStop
    if not actor.may(access):
        log.info("refused command=%s user=%s", command, user.id)
        if message is not None:
            await message.reply_text(refusal(t, access, actor.onboarded))
        raise ApplicationHandlerStop


def handlers() -> list[TypeHandler[Update, RelaisContext, None]]:
    return [TypeHandler(Update, gate)]
